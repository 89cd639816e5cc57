from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from checks.model import Status
from checks.options import ConfigError, build
from checks.tcp import TcpCheck, TcpOptions
from tests.helpers.net import closed_port, serve_loopback


def _server(reply: bytes | None, *, wait_for: bytes = b"") -> tuple[int, socket.socket]:
    """A loopback server that reads until `wait_for` (if any), then sends `reply` (None: nothing)."""
    return serve_loopback(lambda conn: _talk(conn, reply, wait_for))


def _talk(conn: socket.socket, reply: bytes | None, wait_for: bytes) -> None:
    got = b""
    while wait_for and wait_for not in got:
        chunk = conn.recv(1024)
        if not chunk:
            break
        got += chunk
    if reply is not None:
        conn.sendall(reply)
    conn.recv(1024)  # keep the connection open until the client closes it


@pytest.fixture
def banner_port() -> Iterator[int]:
    port, srv = _server(b"220 seal.example ESMTP ready\r\n")
    yield port
    srv.close()


def check(**kw: object) -> TcpCheck:
    return TcpCheck(build(TcpOptions, {"host": "127.0.0.1", **kw}, "checks[0]"))


def test_connect_ok_measures_connect_time(banner_port: int) -> None:
    out = check(port=banner_port).run()
    assert out.status == Status.OK
    m = out.metrics[0]
    assert m.name == "connect_seconds" and m.unit == "s" and 0 <= m.value < 5
    assert "连接成功" in out.summary


def test_connect_time_threshold_warns(banner_port: int) -> None:
    out = check(port=banner_port, warn="@0:10").run()  # any connect time in 0..10 s alerts
    assert out.status == Status.WARNING
    assert out.metrics[0].warn == "@0:10"


def test_banner_expected_and_found(banner_port: int) -> None:
    out = check(port=banner_port, expect="ESMTP").run()
    assert out.status == Status.OK
    assert "ESMTP" in out.details["received"]


def test_banner_mismatch_is_critical(banner_port: int) -> None:
    out = check(port=banner_port, expect="+OK POP3").run()
    assert out.status == Status.CRITICAL
    assert "不含" in out.summary and "220 seal.example" in out.summary


def test_send_then_expect() -> None:
    port, srv = _server(b"PONG\n", wait_for=b"PING\n")
    try:
        out = check(port=port, send="PING\n", expect="PONG").run()
    finally:
        srv.close()
    assert out.status == Status.OK, out.summary


def test_silent_peer_times_out_waiting_for_banner() -> None:
    port, srv = _server(None)
    try:
        out = check(port=port, expect="hello", connect_timeout="300ms").run()
    finally:
        srv.close()
    assert out.status == Status.CRITICAL
    assert "等待响应超时" in out.summary


def test_refused_is_critical_in_chinese() -> None:
    port = closed_port()
    out = check(port=port).run()
    assert out.status == Status.CRITICAL
    assert "连接被拒绝" in out.summary
    assert out.metrics == []


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="port"):
        build(TcpOptions, {"host": "x", "port": 70000}, "c")
    with pytest.raises(ConfigError, match="missing"):
        build(TcpOptions, {"host": "x"}, "c")
    o = build(TcpOptions, {"host": "x", "port": 1, "connect_timeout": "2s", "read_bytes": "1KiB"}, "c")
    assert o.connect_timeout == 2.0 and o.read_bytes == 1024


def test_connect_timeout_when_accept_queue_is_full() -> None:
    # A listener with a full accept queue drops new SYNs: the connect really times out (Linux).
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    held = []
    try:
        for _ in range(3):
            c = socket.socket()
            c.settimeout(0.3)
            try:
                c.connect(("127.0.0.1", port))
                held.append(c)
            except OSError:
                c.close()
                break
        else:
            pytest.skip("the kernel kept accepting connections; cannot provoke a connect timeout")
        out = check(port=port, connect_timeout="300ms").run()
    finally:
        for c in held:
            c.close()
        srv.close()
    assert out.status == Status.CRITICAL
    assert out.summary == f"TCP 127.0.0.1:{port} 连接超时 (0.3 秒)"
