"""TongLINK/Q tlqstat parsers on real captures, and the command path through fake tlqstat."""
from __future__ import annotations

from pathlib import Path

from checks.model import Status
from checks.mq import MqCheck, MqOptions
from checks.mq.tonglinkq import links_from_sections, parse_tlqstat, queues_from_sections
from checks.options import build
from tests.helpers.fixtures import fixture_text


def test_qcu_counts_sections() -> None:
    sec = parse_tlqstat(fixture_text("mq/tonglinkq_tlqstat_qcu_c_1.txt"))
    assert set(sec) == {"send", "local", "remote", "virtual"}
    assert sec["virtual"] == []  # header, no rows
    assert sec["send"] == [{"Quename": "sq", "Ready": "0", "Snding": "0", "Rcving": "0",
                            "WaitAck": "0", "Delay": "0"}]
    assert [r["Quename"] for r in sec["local"]][:3] == ["lq", "TLQ.SYS.EVENT", "TLQ.SYS.DEAD"]
    assert len(sec["local"]) == 7
    assert sec["remote"][1] == {"Quename": "rq3", "SndQName": "sq", "DestQName": "TLQ.SYS.BROKER.SYN",
                                "SndConnName": "conn1", "HostName": "127.0.0.1", "ConnPort": "10004",
                                "ConnType": "long", "ConnStatus": "close"}


def test_qcu_queue_stats() -> None:
    qs = {q.name: q for q in queues_from_sections(parse_tlqstat(fixture_text("mq/tonglinkq_tlqstat_qcu_c_1.txt")))}
    assert (qs["lq"].depth, qs["lq"].consumers, qs["lq"].kind) == (2, 0, "local")
    assert (qs["sq"].depth, qs["sq"].consumers, qs["sq"].kind) == (0, None, "send")
    assert qs["TLQ.SYS.DEAD"].depth == 0


def test_snd_and_rcv_links() -> None:
    snd = links_from_sections(parse_tlqstat(fixture_text("mq/tonglinkq_tlqstat_snd_1.txt")))
    assert [(lk.kind, lk.name, lk.state, lk.detail, lk.status) for lk in snd] == [
        ("send_conn", "conn1", "active/link", "172.100.3.111:10003", Status.OK)]
    rcv = links_from_sections(parse_tlqstat(fixture_text("mq/tonglinkq_tlqstat_rcv_1.txt")))
    assert [(lk.kind, lk.name, lk.state, lk.detail, lk.status) for lk in rcv] == [
        ("recv_conn", "t172.100.3.112_65f2b17a", "active", "172.100.3.112", Status.OK)]


def test_blank_cell_is_placed_by_column_position() -> None:
    text = fixture_text("mq/tonglinkq_tlqstat_snd_1.txt").replace("172.100.3.111", "             ")
    row = parse_tlqstat(text)["snd"][0]
    assert row["HostName"] == "" and row["PortNo"] == "10003" and row["LinkStatus"] == "link"


def test_broken_send_link_is_critical() -> None:
    text = fixture_text("mq/tonglinkq_tlqstat_snd_1.txt").replace("link   ", "unlink ")
    assert links_from_sections(parse_tlqstat(text))[0].status == Status.CRITICAL


def _fake_tlqstat(tmp_path: Path) -> Path:
    """One script answering -c, -snd and -rcv with the captured outputs, as tlqstat would."""
    for kind, name in (("c", "qcu_c_1"), ("snd", "snd_1"), ("rcv", "rcv_1")):
        (tmp_path / f"{kind}.out").write_text(fixture_text(f"mq/tonglinkq_tlqstat_{name}.txt"))
    script = tmp_path / "tlqstat"
    script.write_text("#!/bin/sh\n"
                      f'case "$*" in *-snd*) cat "{tmp_path}/snd.out";; *-rcv*) cat "{tmp_path}/rcv.out";; '
                      f'*) cat "{tmp_path}/c.out";; esac\n')
    script.chmod(0o755)
    return script


def test_fake_tlqstat_end_to_end(tmp_path: Path) -> None:
    tlq = str(_fake_tlqstat(tmp_path))
    opts = {"source": "tonglinkq", "qcu": "qcu1", "command": [tlq, "-qcu", "qcu1", "-c"],
            "status_commands": [[tlq, "-snd", "qcu1", "1"], [tlq, "-rcv", "qcu1", "1"]]}
    out = MqCheck(build(MqOptions, opts, "c")).run()
    assert out.status == Status.OK, out.summary
    assert out.summary == ("TongLINK/Q: 2 个队列正常, 共积压 2 条 (最多 lq 2 条), 死信队列 1 个为空, "
                           "发送连接 1 个运行正常, 接收连接 1 个运行正常")
    depths = {m.name: m.value for m in out.metrics if m.name.startswith("queue_depth:")}
    assert depths == {"queue_depth:lq": 2, "queue_depth:sq": 0, "queue_depth:TLQ.SYS.DEAD": 0}
    warn = MqCheck(build(MqOptions, {**opts, "depth_warn": 1}, "c")).run()
    assert warn.status == Status.WARNING and "队列 lq 积压 2 条" in warn.summary
    crit = MqCheck(build(MqOptions, {**opts, "min_consumers": 1, "queues": ["lq"]}, "c")).run()
    assert crit.status == Status.CRITICAL and "队列 lq 消费者 0 个, 少于 1 个" in crit.summary
