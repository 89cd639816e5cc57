from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional

import pytest

from checks.base import Outcome
from checks.http import HttpCheck, HttpOptions, parse_status_spec
from checks.model import Metric, Status
from checks.options import ConfigError, build
from tests.helpers.certs import Issued, make_ca, make_cert
from tests.helpers.net import closed_port

BIG = b"x" * 200_000 + b"TAIL"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/missing":
            self._send(404, b"no such page")
        elif self.path == "/big":
            self._send(200, BIG)
        elif self.path == "/headers":
            auth = self.headers.get("Authorization") or ""
            self._send(200, f"token={self.headers.get('X-Token')} auth={auth}".encode())
        else:
            self._send(200, "状态: UP 凭证库运行正常".encode())

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        self._send(201, b"created:" + self.rfile.read(n))

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the check reads only max_body bytes and hangs up

    def log_message(self, *args: object) -> None:
        pass


def serve(ctx: Optional[ssl.SSLContext]) -> tuple[ThreadingHTTPServer, int]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if ctx is not None:
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca()


@pytest.fixture(scope="module")
def ca_file(ca: Issued, tmp_path_factory: pytest.TempPathFactory) -> str:
    p = tmp_path_factory.mktemp("ca") / "ca.crt"
    p.write_bytes(ca.pem)
    return str(p)


def https_server(leaf: Issued, workdir: Path) -> Iterator[int]:
    srv, port = serve(leaf.server_context(workdir))
    yield port
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def valid_port(ca: Issued, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from https_server(make_cert("voucher.example", issuer=ca, days=365),
                            tmp_path_factory.mktemp("valid"))


@pytest.fixture(scope="module")
def expiring_port(ca: Issued, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from https_server(make_cert("seal.example", issuer=ca, days=5.5),
                            tmp_path_factory.mktemp("expiring"))


@pytest.fixture(scope="module")
def expired_port(ca: Issued, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    yield from https_server(make_cert("old.example", issuer=ca, days=-3.5),
                            tmp_path_factory.mktemp("expired"))


@pytest.fixture(scope="module")
def http_port() -> Iterator[int]:
    srv, port = serve(None)
    yield port
    srv.shutdown()
    srv.server_close()


def run(**kw: object) -> Outcome:
    return HttpCheck(build(HttpOptions, kw, "checks[0]")).run()


def metric(out: Outcome, name: str) -> Metric:
    found = [m for m in out.metrics if m.name == name]
    assert found, f"no metric {name} in {[m.name for m in out.metrics]}"
    return found[0]


def test_plain_http_ok_with_body_regex(http_port: int) -> None:
    out = run(url=f"http://127.0.0.1:{http_port}/health", expect_body=r"状态: UP")
    assert out.status == Status.OK, out.summary
    assert metric(out, "status_code").value == 200
    assert metric(out, "response_seconds").unit == "s"
    assert [m.name for m in out.metrics] == ["response_seconds", "status_code"]
    assert "响应内容匹配" in out.summary


def test_body_regex_mismatch_is_critical(http_port: int) -> None:
    out = run(url=f"http://127.0.0.1:{http_port}/", expect_body="DOWN|ERROR")
    assert out.status == Status.CRITICAL and "不匹配" in out.summary


def test_unexpected_status_is_critical(http_port: int) -> None:
    out = run(url=f"http://127.0.0.1:{http_port}/missing")
    assert out.status == Status.CRITICAL
    assert "404" in out.summary and "200-399" in out.summary
    assert run(url=f"http://127.0.0.1:{http_port}/missing", expect_status=["404"]).status == Status.OK
    assert run(url=f"http://127.0.0.1:{http_port}/missing", expect_status="4xx").status == Status.OK


def test_reads_at_most_max_body(http_port: int) -> None:
    out = run(url=f"http://127.0.0.1:{http_port}/big", max_body="1KiB", expect_body="TAIL")
    assert out.details["body_bytes_read"] == 1024
    assert out.status == Status.CRITICAL  # TAIL lies beyond what we read
    assert run(url=f"http://127.0.0.1:{http_port}/big", max_body="1MiB", expect_body="TAIL").status \
        == Status.OK


def test_method_body_and_headers(http_port: int) -> None:
    out = run(url=f"http://127.0.0.1:{http_port}/x", method="post", body="v=1", expect_status=["201"],
              expect_body="created:v=1")
    assert out.status == Status.OK, out.summary
    out = run(url=f"http://127.0.0.1:{http_port}/headers", headers={"X-Token": "abc"},
              expect_body="token=abc")
    assert out.status == Status.OK, out.summary


def test_response_time_threshold(http_port: int) -> None:
    out = run(url=f"http://127.0.0.1:{http_port}/", crit="@0:60")
    assert out.status == Status.CRITICAL


@pytest.mark.real_clock  # OpenSSL verifies the certificate with the system clock, not Python's
def test_https_valid_certificate(valid_port: int, ca_file: str) -> None:
    out = run(url=f"https://localhost:{valid_port}/", ca_file=ca_file)
    assert out.status == Status.OK, out.summary
    days = metric(out, "cert_days_left")
    assert days is not None and 363 < days.value <= 365 and days.warn == "30:" and days.crit == "7:"
    assert "CN=voucher.example" in out.summary


@pytest.mark.real_clock  # OpenSSL verifies the certificate with the system clock, not Python's
def test_https_expiring_in_five_days_is_critical(expiring_port: int, ca_file: str) -> None:
    out = run(url=f"https://localhost:{expiring_port}/", ca_file=ca_file)
    assert out.status == Status.CRITICAL
    assert "将在 5 天后过期" in out.summary
    warn_only = run(url=f"https://localhost:{expiring_port}/", ca_file=ca_file, cert_crit_days=3)
    assert warn_only.status == Status.WARNING


def test_https_expired_certificate_reports_expiry(expired_port: int, ca_file: str) -> None:
    out = run(url=f"https://localhost:{expired_port}/", ca_file=ca_file)
    assert out.status == Status.CRITICAL
    assert "证书校验失败" in out.summary and "证书已过期 3 天" in out.summary
    assert metric(out, "cert_days_left").value < -3


def test_https_unknown_ca_fails_verification_unless_disabled(valid_port: int) -> None:
    out = run(url=f"https://localhost:{valid_port}/")  # system CAs do not know our test CA
    assert out.status == Status.CRITICAL and "证书校验失败" in out.summary
    out = run(url=f"https://localhost:{valid_port}/", verify=False)
    assert out.status == Status.OK, out.summary
    assert metric(out, "cert_days_left").value > 363


def test_hostname_mismatch(valid_port: int, ca_file: str) -> None:
    # The certificate names localhost and 127.0.0.1, not 127.0.0.2.
    out = run(url=f"https://127.0.0.2:{valid_port}/", ca_file=ca_file)
    assert out.status == Status.CRITICAL


def test_connection_refused(http_port: int) -> None:

    port = closed_port()
    out = run(url=f"http://127.0.0.1:{port}/")
    assert out.status == Status.CRITICAL and "连接被拒绝" in out.summary


def test_options() -> None:
    assert parse_status_spec("200-399") == (200, 399)
    assert parse_status_spec("3xx") == (300, 399)
    with pytest.raises(ConfigError):
        build(HttpOptions, {"url": "ftp://x/"}, "c")
    with pytest.raises(ConfigError):
        build(HttpOptions, {"url": "http://x/", "expect_status": ["abc"]}, "c")
    with pytest.raises(ConfigError):
        build(HttpOptions, {"url": "http://x/", "expect_body": "("}, "c")


def test_agent_does_not_import_http_libraries() -> None:
    import subprocess
    import sys

    code = ("import sys, checks.http, checks.tls, checks.cert; "
            "print(sorted(m for m in ('httpx', 'requests', 'cryptography') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_basic_auth_from_url_and_password_never_shown(http_port: int) -> None:
    out = run(url=f"http://ops:pa55w0rd@127.0.0.1:{http_port}/headers",
              expect_body="auth=Basic b3BzOnBhNTV3MHJk")  # base64 of ops:pa55w0rd
    assert out.status == Status.OK
    assert "pa55w0rd" not in str(out.details) and out.details["url"].startswith("http://ops:***@")
    port = closed_port()
    out = run(url=f"http://ops:pa55w0rd@127.0.0.1:{port}/")
    assert out.status == Status.CRITICAL and "pa55w0rd" not in out.summary
