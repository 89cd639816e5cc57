"""The sender against a real HTTP stand-in: reply codes, splitting, rejections, gzip, heartbeats."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from agent.config import MAX_BATCH_BYTES, parse_config
from agent.rejected import RejectedLog
from agent.sender import Sender, gzip
from agent.spool import Spool
from agent.stats import Stats
from agent.transport import post
from checks.model import Result, Status
from tests.agent.standin import Standin
from tests.helpers.net import read_request, serve_loopback


@pytest.fixture
def standin() -> Iterator[Standin]:
    s = Standin().start()
    yield s
    s.stop()


def _sender(tmp_path: Path, url: str, **send: object) -> Sender:
    cfg = parse_config({"collector": {"url": url, "token": "test-token"}, "host": {"name": "web01"},
                        "state_dir": str(tmp_path), "send": {"timeout": "2s", **send}, "checks": []})
    spool = Spool(tmp_path / "spool.db", max_bytes=1 << 26, max_age=86400)
    return Sender(cfg, spool, Stats(), RejectedLog(tmp_path / "rejected.jsonl"))


def _fill(sender: Sender, n: int, check: str = "c", pad: int = 0) -> None:
    for i in range(n):
        sender.spool.put(Result(host="web01", check=f"{check}{i}", system="os", status=Status.OK,
                                summary="正常" + "x" * pad))


def _drain(sender: Sender, rounds: int = 50) -> None:
    for _ in range(rounds):
        entries = sender.spool.peek(sender.limit, MAX_BATCH_BYTES)
        if not entries:
            return
        sender._not_before = 0.0
        sender.send(entries, 2)


def test_batch_is_acked_and_agent_block_reported(tmp_path: Path, standin: Standin) -> None:
    sender = _sender(tmp_path, standin.url)
    _fill(sender, 5)
    assert sender.send(sender.spool.peek(100, MAX_BATCH_BYTES), 2)
    assert sender.spool.depth == 0 and len(standin.results) == 5
    agent = standin.requests[0]["agent"]
    assert agent == {"host": "web01", "version": "0.1.0", "labels": {}, "heartbeat": 30, "spool_depth": 5,
                     "dropped_total": 0, "skipped_total": 0, "rejected_total": 0,
                     "config_version": None, "config_refused": None}
    assert sender.send([], 2)  # a heartbeat: an empty results list
    assert standin.requests[-1]["n"] == 0 and standin.requests[-1]["agent"]["spool_depth"] == 0


def test_large_bodies_are_gzipped(tmp_path: Path, standin: Standin) -> None:
    sender = _sender(tmp_path, standin.url)
    _fill(sender, 20, pad=500)
    _drain(sender)
    assert standin.requests[0]["gzip"] and len(standin.results) == 20
    _fill(sender, 1)
    _drain(sender)
    assert not standin.requests[-1]["gzip"]


def test_413_splits_the_batch(tmp_path: Path, standin: Standin) -> None:
    standin.max_batch = 3
    sender = _sender(tmp_path, standin.url)
    _fill(sender, 10)
    _drain(sender)
    assert len(standin.results) == 10 and sender.spool.depth == 0
    assert 413 in [r["code"] for r in standin.requests]
    assert max(r["n"] for r in standin.requests if r["code"] == 200) <= 3


def test_400_halves_down_to_the_bad_result_which_goes_to_rejected(tmp_path: Path, standin: Standin) -> None:
    standin.poison = {"bad0"}
    sender = _sender(tmp_path, standin.url)
    _fill(sender, 6)
    _fill(sender, 1, check="bad")
    _fill(sender, 6, check="late")
    _drain(sender)
    assert sender.spool.depth == 0
    assert len(standin.results) == 12 and "bad0" not in {r["check"] for r in standin.results.values()}
    lines = (tmp_path / "rejected.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    rejected = json.loads(lines[0])
    assert rejected["status"] == 400 and rejected["result"]["check"] == "bad0"
    assert sender.rejected.total == 1


def test_rejected_inside_200_leave_the_spool_and_are_kept(tmp_path: Path, standin: Standin) -> None:
    standin.reject_checks = {"c1"}
    sender = _sender(tmp_path, standin.url)
    _fill(sender, 3)
    _drain(sender)
    assert sender.spool.depth == 0 and len(standin.results) == 2
    rejected = json.loads((tmp_path / "rejected.jsonl").read_text(encoding="utf-8"))
    assert rejected["error"] == "unknown system" and rejected["result"]["check"] == "c1"


def test_401_keeps_everything_and_backs_off(tmp_path: Path, standin: Standin) -> None:
    standin.mode = "401"
    sender = _sender(tmp_path, standin.url)
    _fill(sender, 3)
    assert not sender.send(sender.spool.peek(100, MAX_BATCH_BYTES), 2)
    assert sender.spool.depth == 3 and sender.stats.send_errors["auth"] == 1
    assert sender._not_before > 0


def test_flush_sends_everything_or_gives_up_quickly(tmp_path: Path, standin: Standin) -> None:
    sender = _sender(tmp_path, standin.url, batch_size=4)
    _fill(sender, 10)
    assert sender.flush(5)
    assert len(standin.results) == 10
    standin.mode = "500"
    _fill(sender, 2)
    assert not sender.flush(5)
    assert sender.spool.depth == 2


def test_rejected_log_is_bounded(tmp_path: Path) -> None:
    log = RejectedLog(tmp_path / "rejected.jsonl", max_bytes=2000)
    for i in range(50):
        log.write(json.dumps({"id": str(i), "pad": "x" * 100}), "bad", 400)
    assert (tmp_path / "rejected.jsonl").stat().st_size <= 2000
    assert (tmp_path / "rejected.jsonl.1").stat().st_size <= 2000


def _raw_server(reply: bytes) -> tuple[int, socket.socket]:
    """Answers every connection with the given raw bytes after reading the request."""
    def answer(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(reply)
    return serve_loopback(answer, backlog=4)


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\n{\"acc\r\n12\r\nepted\": 1, \"x\": 2}\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"accepted\": 1, \"x\": 2}",
    b"HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\n{\"accepted\": 1, \"x\": 2}",
], ids=["chunked-after-100", "close-delimited", "content-length"])
def test_http_reply_framings(reply: bytes) -> None:
    port, srv = _raw_server(reply)
    try:
        r = post(urlsplit(f"http://127.0.0.1:{port}"), "/api/v1/results", b"{}", {}, 5)
        assert r.status == 200 and json.loads(r.body) == {"accepted": 1, "x": 2}
    finally:
        srv.close()


def test_garbage_reply_is_a_network_error(tmp_path: Path) -> None:
    """A peer that does not answer in HTTP: the batch stays spooled and the sender backs off."""
    port, srv = _raw_server(b"SSH-2.0-OpenSSH_9.2\r\n")
    try:
        with pytest.raises(http.client.HTTPException):
            post(urlsplit(f"http://127.0.0.1:{port}"), "/x", b"{}", {}, 5)
        sender = _sender(tmp_path, f"http://127.0.0.1:{port}")
        _fill(sender, 2)
        assert not sender.send(sender.spool.peek(100, MAX_BATCH_BYTES), 2)
        assert sender.spool.depth == 2 and sender.stats.send_errors["connect"] == 1 and sender._not_before > 0
    finally:
        srv.close()


def test_gzip_framing_is_standard() -> None:
    import gzip as stdlib_gzip

    data = json.dumps({"x": "巡检" * 1000}).encode()
    assert stdlib_gzip.decompress(gzip(data)) == data


def test_refused_silent_and_ipv6_collectors() -> None:
    """A refused port is ConnectionRefusedError, a collector that accepts but never answers is a
    timeout, an IPv6 address works."""
    from tests.conftest import free_port

    with pytest.raises(ConnectionRefusedError):
        post(urlsplit(f"http://127.0.0.1:{free_port()}"), "/x", b"{}", {}, 5)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        with pytest.raises((TimeoutError, socket.timeout)):  # one class since 3.10
            post(urlsplit(f"http://127.0.0.1:{silent.getsockname()[1]}"), "/x", b"{}", {}, 0.5)
    finally:
        silent.close()
    if not socket.has_ipv6:
        return
    srv = socket.socket(socket.AF_INET6)
    try:
        srv.bind(("::1", 0))
    except OSError:
        srv.close()
        pytest.skip("no IPv6 loopback here")
    srv.listen(1)

    def answer() -> None:
        conn, _ = srv.accept()
        with conn:
            read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    threading.Thread(target=answer, daemon=True).start()
    try:
        r = post(urlsplit(f"http://[::1]:{srv.getsockname()[1]}"), "/x", b"{}", {}, 5)
        assert (r.status, r.body) == (200, b"{}")
    finally:
        srv.close()


def test_https_posts_and_a_failed_handshake_leaves_no_socket_open(tmp_path: Path) -> None:
    """A POST to an https collector whose CA we trust works; one whose certificate we do not trust
    fails with an OSError and closes the connection it made."""
    import ssl

    from tests.helpers.certs import make_ca, make_cert

    ca = make_ca()
    ctx = make_cert("localhost", issuer=ca).server_context(tmp_path)
    def answer(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            read_request(tls)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    port, srv = serve_loopback(answer, backlog=4)
    url = urlsplit(f"https://127.0.0.1:{port}")
    try:
        (tmp_path / "ca.pem").write_bytes(ca.pem)
        trusted = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        r = post(url, "/x", b"{}", {}, 5, trusted)
        assert (r.status, r.body) == (200, b"{}")
        failures = []  # kept: their tracebacks hold post()'s frames, so a socket it forgot stays open to be seen
        for _ in range(5):
            with pytest.raises(OSError) as failed:  # ssl.SSLCertVerificationError
                post(url, "/x", b"{}", {}, 5, ssl.create_default_context())
            failures.append(failed)
        # Our sockets to the server, not a count of the process's fds (other tests' leftovers close at any time).
        assert [c for c in psutil.Process().net_connections("tcp") if c.raddr and c.raddr.port == port] == []
    finally:
        srv.close()


@pytest.mark.parametrize("named_by", [("index", "id"), ("id",), ("index",), ()],
                         ids=["index-and-id", "id", "index", "unnamed"])
def test_422_quarantines_exactly_the_refused_results(tmp_path: Path, standin: Standin, named_by: tuple) -> None:
    """The refused results go to rejected.jsonl with their error, counted (across a restart too);
    the others are delivered. A 422 that names none is bisected down to the bad ones."""
    standin.refuse_checks = {"bad0", "bad1"}
    standin.refuse_named_by = named_by
    sender = _sender(tmp_path, standin.url)
    _fill(sender, 5)
    _fill(sender, 2, check="bad")
    _fill(sender, 5, check="late")
    _drain(sender)
    assert sender.spool.depth == 0
    assert sorted(r["check"] for r in standin.results.values()) == sorted(
        [f"c{i}" for i in range(5)] + [f"late{i}" for i in range(5)])
    kept = [json.loads(line) for line in (tmp_path / "rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(k["result"]["check"] for k in kept) == ["bad0", "bad1"]
    assert {k["status"] for k in kept} == {422}
    if named_by:  # the collector's own words for each
        assert sorted(k["error"] for k in kept) == ["check bad0 refused", "check bad1 refused"]
        assert [r["code"] for r in standin.requests] == [422, 200]  # no bisecting needed
    assert sender.rejected.total == 2
    assert RejectedLog(tmp_path / "rejected.jsonl").total == 2  # as a restarted agent reads it
    assert sender.send([], 2) and standin.requests[-1]["agent"]["rejected_total"] == 2


def test_a_422_naming_results_not_in_the_batch_is_bisected(tmp_path: Path, standin: Standin) -> None:
    sender = _sender(tmp_path, standin.url)
    _fill(sender, 2)
    entries = sender.spool.peek(100, MAX_BATCH_BYTES)
    from agent.sender import _refused

    body = json.dumps({"detail": {"errors": [{"index": 7, "id": "nope", "error": "x"}, "junk",
                                             {"index": True, "error": "bool is no index"}]}}).encode()
    assert _refused(entries, body) == []
    assert _refused(entries, b"<html>") == []
    assert [e.id for e, _ in _refused(entries, json.dumps(
        {"detail": {"errors": [{"index": 0, "id": entries[1].id, "error": "x"}]}}).encode())] == [entries[1].id]


class _Longest:
    """Backoff jitter at its ceiling: the longest waits the sender can draw."""

    def uniform(self, low: float, high: float) -> float:
        return high


def test_sending_resumes_within_seconds_of_the_collectors_return(tmp_path: Path) -> None:
    """The collector is away long enough for the backoff to grow past a minute; once it is back the
    /healthz probe ends the wait: the spooled results arrive within PROBE_EVERY + a little."""
    from agent.backoff import Backoff
    from agent.sender import PROBE_EVERY
    from tests.conftest import free_port

    port = free_port()
    sender = _sender(tmp_path, f"http://127.0.0.1:{port}", flush_interval="0.05s")
    sender.backoff = Backoff(1.0, 300.0, rng=_Longest())
    sender.backoff.attempt = 6  # as after a few minutes of outage: the next waits are 64 s and longer
    _fill(sender, 3)
    sender.start()
    try:
        deadline = time.monotonic() + 10
        while sender.stats.send_errors["connect"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sender._not_before - time.monotonic() > 50  # without the probe: a minute's wait ahead
        back = Standin(port).start()
        t0 = time.monotonic()
        try:
            assert back.wait_for(lambda: len(back.results) == 3, 30)
            assert time.monotonic() - t0 < PROBE_EVERY + 3
            # the stand-in has the batch before its answer reaches the sender: the ack follows a moment later
            assert back.wait_for(lambda: sender.spool.depth == 0 and sender.backoff.attempt == 0, 5)
        finally:
            back.stop()
    finally:
        sender.stop()
