"""RabbitMQ: parsers on real captures; AMQP and rabbitmqctl against the real local broker."""
from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from checks.base import Outcome
from checks.model import Status
from checks.mq import MqCheck, MqOptions
from checks.mq.judge import Rules, judge
from checks.mq.model import QueueStat, Snapshot
from checks.mq.rabbitmq import parse_api_queues, parse_list_queues, queues_from_rows, snapshot_from_ctl
from checks.options import ConfigError, build
from tests.helpers.fixtures import fixture_text
from tests.helpers.net import closed_port, listening

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"

# Captured on this machine from rabbitmqctl 3.10.8 (LANG=C.UTF-8, output not a terminal):
# `rabbitmqctl list_queues name messages consumers --formatter=pretty_table` draws its table
# with VT100 line graphics and bolds the header.
PRETTY_VT100 = ("Timeout: 60.0 seconds ...\nListing queues for vhost / ...\n"
                "\x1b(0lqqqqqqqqqqwqqqqqqqqqqwqqqqqqqqqqqk\x1b(B\n"
                "\x1b(0x\x1b(B \x1b[1mname\x1b[0m     \x1b(0x\x1b(B \x1b[1mmessages\x1b[0m \x1b(0x\x1b(B "
                "\x1b[1mconsumers\x1b[0m \x1b(0x\x1b(B\n"
                "\x1b(0tqqqqqqqqqqnqqqqqqqqqqnqqqqqqqqqqqu\x1b(B\n"
                "\x1b(0x\x1b(B xj.probe \x1b(0x\x1b(B 1        \x1b(0x\x1b(B 0         \x1b(0x\x1b(B\n"
                "\x1b(0mqqqqqqqqqqvqqqqqqqqqqvqqqqqqqqqqqj\x1b(B\n")


# -- parsers on the shared captures -------------------------------------------------------------

def test_list_queues_plain_with_banner_and_header() -> None:
    assert parse_list_queues(fixture_text("mq/rabbitmq_list_queues_1_plain.txt")) == [
        {"name": "mqtt-subscription-sub-13qos1"}]


def test_list_queues_empty() -> None:
    assert parse_list_queues(fixture_text("mq/rabbitmq_list_queues_2_empty.txt")) == []


def test_list_queues_pretty_table() -> None:
    rows = parse_list_queues(fixture_text("mq/rabbitmq_list_queues_3_pretty_table.txt"))
    assert rows == [{"name": "my-stream", "type": "stream", "messages": "32748214"}]
    q = queues_from_rows(rows)[0]
    assert (q.name, q.depth, q.kind, q.consumers) == ("my-stream", 32748214, "stream", None)


def test_list_queues_pretty_table_ready_unacked() -> None:
    rows = parse_list_queues(fixture_text("mq/rabbitmq_list_queues_4_pretty_table_ready_unacked.txt"))
    assert [(r["name"], r["type"], r["messages"], r["messages_ready"]) for r in rows] == [
        ("my-target-queue", "classic", "1", "1"), ("my-source-queue", "quorum", "0", "0")]
    assert [q.depth for q in queues_from_rows(rows)] == [1, 0]


def test_list_queues_vt100_pretty_table() -> None:
    assert parse_list_queues(PRETTY_VT100) == [{"name": "xj.probe", "messages": "1", "consumers": "0"}]


def test_list_queues_without_header_uses_asked_columns() -> None:
    rows = parse_list_queues("Q.VOUCHER.IN\t12\t2\nQ.VOUCHER.DLQ\t0\t0\n", ["name", "messages", "consumers"])
    assert [q.depth for q in queues_from_rows(rows)] == [12, 0]


def test_pretty_table_row_with_empty_counts_is_kept_and_critical() -> None:
    """A queue that is down answers no counts: rabbitmqctl prints its row with empty cells. No one
    published such a table, so this takes the real pretty_table capture 4 and empties the count
    cells of its second row (my-source-queue), keeping the table's widths."""
    text = fixture_text("mq/rabbitmq_list_queues_4_pretty_table_ready_unacked.txt")
    bar = "\u2502"
    row = f"{bar} my-source-queue {bar} quorum  {bar} 0        {bar} 0              {bar} 0                       {bar}"
    down = f"{bar} my-source-queue {bar} quorum  {bar}{' ' * 10}{bar}{' ' * 16}{bar}{' ' * 25}{bar}"
    assert row in text
    snap = snapshot_from_ctl([text.replace(row, down)])
    assert [(q.name, q.depth) for q in snap.queues] == [("my-target-queue", 1), ("my-source-queue", None)]
    out = judge(snap, Rules(product="RabbitMQ", queues=[], dead_letter=[], dead_letter_explicit=False,
                            system_prefixes=("amq.",)))
    assert (out.status, out.summary) == (Status.CRITICAL, "RabbitMQ: 队列 my-source-queue 不可用 (没有返回消息数)")


def test_api_queue_that_is_down_has_no_counts_but_is_kept() -> None:
    rows = [{"name": "voucher.in", "vhost": "fiscal", "state": "down", "type": "classic"},
            {"name": "voucher.new", "vhost": "fiscal", "state": "running"}]  # no stats emitted yet
    assert [(q.name, q.depth, q.state) for q in queues_from_rows(rows)] == [("voucher.in", None, "down")]


def test_listing_banner_names_the_vhost() -> None:
    snap = snapshot_from_ctl([fixture_text("mq/rabbitmq_list_queues_3_pretty_table.txt")])
    assert [(q.owner, q.name) for q in snap.queues] == [("/", "my-stream")]


def test_depth_from_ready_plus_unacked() -> None:
    assert queues_from_rows([{"name": "a", "messages_ready": "3", "messages_unacknowledged": "4"}])[0].depth == 7


@pytest.mark.parametrize(("name", "expected"), [
    ("rabbitmq_api_queues_1_v3.6.8.json.txt",
     [("amq.gen---WBD642a0yMDq25x3DpvQ", 1, 0), ("amq.gen-AZWct5711RRwY4HXRtU-8w", 0, 0),
      ("amq.gen-vPJMD2iLr8liaiqKRpSt_g", 0, 0)]),
    ("rabbitmq_api_queues_2_v3.7.0.json.txt",
     [("amq.gen-1Nb3tSVlcjin_u_k_8Ur_A", 0, 0), ("amq.gen-_uN9uFRYxbcWkNXY8GsCmQ", 0, 0),
      ("amq.gen-qgYEo5W8l7zlozrznGMVdA", 0, 0)]),
    ("rabbitmq_api_queues_3_telegraf_one_queue.json.txt",
     [("reply_a716f0523cd44941ad2ea6ce4a3869c3", 44, 3)]),
])
def test_management_api_queues(name: str, expected: list[tuple[str, int, int]]) -> None:
    assert [(q.name, q.depth, q.consumers) for q in parse_api_queues(fixture_text(f"mq/{name}"))] == expected


def test_management_api_source_against_a_loopback_server() -> None:
    """The api source end to end: a local HTTP server serving the captured /api/queues body."""
    import base64
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = fixture_text("mq/rabbitmq_api_queues_3_telegraf_one_queue.json.txt").encode()
    seen: dict[str, Any] = {}

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen["path"], seen["auth"] = self.path, self.headers.get("Authorization")
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://monitor:s3cret@127.0.0.1:{srv.server_address[1]}/api/queues"
        out = MqCheck(build(MqOptions, {"source": "rabbitmq_api", "url": url, "depth_warn": 40,
                                        "queues": ["reply_.*"]}, "c")).run()
    finally:
        srv.shutdown()
        srv.server_close()
    assert seen["path"].startswith("/api/queues?columns=name,vhost,state,messages")
    assert base64.b64decode(seen["auth"].split()[1]) == b"monitor:s3cret"
    assert out.status == Status.WARNING
    assert "队列 reply_a716f0523cd44941ad2ea6ce4a3869c3 积压 44 条" in out.summary
    assert "s3cret" not in out.summary


# -- the real broker --------------------------------------------------------------------------


@pytest.fixture
def broker() -> Iterator[Any]:
    if not listening(5672):
        pytest.skip("RabbitMQ is not listening on 127.0.0.1:5672")
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    ch = conn.channel()
    names: list[str] = []

    class Broker:
        tag = uuid.uuid4().hex[:8]

        def queue(self, suffix: str, messages: int = 0) -> str:
            name = f"xunjian.test.{self.tag}.{suffix}"
            ch.queue_declare(name, durable=False, auto_delete=False)
            names.append(name)
            for i in range(messages):
                ch.basic_publish("", name, f"voucher {i}".encode())
            return name

        def consume(self, name: str) -> None:
            ch.basic_consume(name, lambda *a: None, auto_ack=False)
            conn.process_data_events(time_limit=0.2)

    yield Broker()
    for n in names:
        ch.queue_delete(n)
    conn.close()


def amqp(**kw: object) -> Outcome:
    return MqCheck(build(MqOptions, {"source": "amqp", "url": AMQP_URL, **kw}, "checks[0]")).run()


def _wait_depth(q: str, n: int, **kw: object) -> Outcome:
    """Publishing is asynchronous: poll until the broker counts what we sent."""
    for _ in range(50):
        out = amqp(queues=[q], **kw)
        m = {x.name: x.value for x in out.metrics}
        if m.get(f"queue_depth:{q}") == n:
            return out
        time.sleep(0.05)
    raise AssertionError(f"depth of {q} never reached {n}: {out.summary}")


@pytest.mark.rabbitmq
def test_amqp_depth_consumers_and_thresholds(broker: Any) -> None:
    q = broker.queue("in", messages=7)
    out = _wait_depth(q, 7)
    assert out.status == Status.OK
    assert {m.name: m.value for m in out.metrics} == {f"queue_depth:{q}": 7, f"consumers:{q}": 0}
    assert amqp(queues=[q], depth_warn=5).status == Status.WARNING
    out = amqp(queues=[q], depth_warn=5, depth_crit=6)
    assert out.status == Status.CRITICAL and f"队列 {q} 积压 7 条" in out.summary
    out = amqp(queues=[q], min_consumers=1)
    assert out.status == Status.CRITICAL and "消费者 0 个" in out.summary
    broker.consume(q)
    for _ in range(50):
        out = amqp(queues=[q], min_consumers=1)
        if out.status == Status.OK:
            break
        time.sleep(0.05)
    assert out.status == Status.OK, out.summary
    assert {m.name: m.value for m in out.metrics}[f"consumers:{q}"] == 1


@pytest.mark.rabbitmq
def test_amqp_dead_letter_queue_with_messages_warns(broker: Any) -> None:
    q = broker.queue("in")
    dlq = broker.queue("in.dlq", messages=2)
    for _ in range(50):
        out = amqp(queues=[q], dead_letter=[dlq])
        if out.status != Status.OK:
            break
        time.sleep(0.05)
    assert out.status == Status.WARNING and f"死信队列 {dlq} 有 2 条消息" in out.summary
    # a regex only classifies the queues asked for by name (AMQP cannot list queues)
    out = amqp(queues=[q, dlq], dead_letter=[r".*\.(dlq|DLQ)$"])
    assert out.status == Status.WARNING and "死信队列" in out.summary


@pytest.mark.rabbitmq
def test_amqp_missing_queue_is_critical(broker: Any) -> None:
    q = broker.queue("present")
    out = amqp(queues=[q, f"{q}.absent"])
    assert out.status == Status.CRITICAL
    assert out.summary == f"RabbitMQ: 队列不存在: {q}.absent"
    assert f"queue_depth:{q}" in {m.name for m in out.metrics}
    out = amqp(queues=[q], dead_letter=[f"{q}.dlq.absent"])
    assert out.status == Status.WARNING and "死信队列不存在" in out.summary


@pytest.mark.rabbitmq
def test_amqp_wrong_password_is_critical_and_not_echoed(broker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    q = broker.queue("auth")
    monkeypatch.setenv("XJ_MQ_PASS", "wrong-Pa55")
    out = amqp(queues=[q], password_env="XJ_MQ_PASS")
    assert out.status == Status.CRITICAL and "认证失败" in out.summary
    assert "wrong-Pa55" not in out.summary
    monkeypatch.setenv("XJ_MQ_PASS", "guest")
    assert amqp(queues=[q], password_env="XJ_MQ_PASS").status == Status.OK


@pytest.mark.parametrize(("reply", "state"), [
    # the broker's own wording (rabbitmq-server src/rabbit_amqqueue.erl, priv_absent and not_found)
    ("NOT_FOUND - no queue 'voucher.in' in vhost '/'", None),
    ("NOT_FOUND - home node 'rabbit@mq1' of durable queue 'voucher.in' in vhost '/' is down or inaccessible",
     "down"),
    ("NOT_FOUND - queue 'voucher.in' in vhost '/' process is stopped by supervisor", "stopped"),
    ("NOT_FOUND - queue 'voucher.in' in vhost '/' has crashed and failed to restart", "crashed"),
    ("NOT_FOUND - failed to perform operation on queue 'voucher.in' in vhost '/' due to timeout", "unavailable"),
])
def test_amqp_404_that_is_not_absence(reply: str, state: object) -> None:
    from checks.mq.amqp import unavailable_state

    assert unavailable_state(reply) == state
    if state is not None:
        out = judge(Snapshot(queues=[QueueStat("voucher.in", None, state=str(state))], complete_listing=False),
                    Rules(product="RabbitMQ", queues=["voucher.in"], dead_letter=[], dead_letter_explicit=False,
                          system_prefixes=("amq.",)))
        assert out.status == Status.CRITICAL and "不存在" not in out.summary
        assert out.summary.startswith("RabbitMQ: 队列 voucher.in ")


def test_amqp_refused_is_critical() -> None:
    port = closed_port()
    out = MqCheck(build(MqOptions, {"url": f"amqp://guest:guest@127.0.0.1:{port}/%2F",
                                    "queues": ["q"], "io_timeout": "2s"}, "c")).run()
    assert out.status == Status.CRITICAL and "无法连接 RabbitMQ" in out.summary


def test_amqp_needs_names() -> None:
    with pytest.raises(ConfigError, match="cannot list"):
        build(MqOptions, {"source": "amqp", "queues": [".*"]}, "c")


@pytest.mark.rabbitmq
def test_real_rabbitmqctl(broker: Any) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    probe = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"rabbitmqctl cannot reach the node: {probe.stderr.decode()[-200:]}")
    q = broker.queue("ctl", messages=3)
    dlq = broker.queue("ctl.DLQ", messages=1)
    time.sleep(0.3)
    for argv in (None, ["rabbitmqctl", "list_queues", "name", "messages", "consumers",
                        "--formatter=pretty_table"]):
        extra = {"command": argv} if argv else {}
        out = MqCheck(build(MqOptions, {"source": "rabbitmqctl", "queues": [q], "dead_letter": [r".*\.DLQ"],
                                        **extra}, "c")).run()
        metrics = {m.name: m.value for m in out.metrics}
        assert metrics[f"queue_depth:{q}"] == 3 and metrics[f"queue_depth:{dlq}"] == 1, out.summary
        if argv is None:  # the default command asks for the state too
            assert {d["name"]: d["state"] for d in out.details["queues"]}[q] == "running"
        assert out.status == Status.WARNING and f"死信队列 {dlq} 有 1 条消息" in out.summary
