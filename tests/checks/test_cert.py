from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.base import Outcome
from checks.cert import CertCheck, CertOptions, split_endpoint
from checks.model import Metric, Status
from checks.options import ConfigError, build
from tests.helpers.certs import Issued, make_ca, make_cert
from tests.helpers.net import closed_port, serve_loopback


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("Xunjian Test CA", days=3650)


def run(**kw: object) -> Outcome:
    return CertCheck(build(CertOptions, kw, "checks[0]")).run()


def metric(out: Outcome, name: str) -> Metric:
    found = [m for m in out.metrics if m.name == name]
    assert found, f"no metric {name} in {[m.name for m in out.metrics]}"
    return found[0]


def test_pem_valid(tmp_path: Path, ca: Issued) -> None:
    crt, _ = make_cert("seal.example", issuer=ca, days=100.5).write(tmp_path / "seal")
    out = run(files=[str(crt)])
    assert out.status == Status.OK
    assert out.summary.startswith("证书 CN=seal.example 将在 100 天后过期 (")
    m = metric(out, "days_left:seal.example")
    assert 100 < m.value < 101 and m.unit == "" and m.warn == "30:" and m.crit == "7:"


def test_pem_expiring_warn_and_crit(tmp_path: Path, ca: Issued) -> None:
    crt, _ = make_cert("seal.example", issuer=ca, days=12.5).write(tmp_path / "seal")
    out = run(files=[str(crt)])
    leaf_day = out.details["certificates"][0]["not_after"][:10]
    assert out.status == Status.WARNING
    assert out.summary == f"证书 CN=seal.example 将在 12 天后过期 ({leaf_day}) [seal.crt]"
    assert run(files=[str(crt)], crit_days=15, warn_days=40).status == Status.CRITICAL


def test_chain_file_reports_soonest(tmp_path: Path) -> None:
    ca = make_ca("Short Lived CA", days=20)  # the CA expires before the leaf
    leaf = make_cert("voucher.example", issuer=ca, days=300)
    crt, _ = leaf.write(tmp_path / "chain", chain=[ca])
    out = run(files=[str(crt)])
    assert out.status == Status.WARNING
    assert "CN=Short Lived CA" in out.summary
    assert out.details["certificates"][0]["certificates_in_file"] == 2
    assert 19.9 < metric(out, "days_left:Short Lived CA").value <= 20


def test_expired_and_not_yet_valid(tmp_path: Path, ca: Issued) -> None:
    from datetime import datetime, timedelta, timezone

    crt, _ = make_cert("old.example", issuer=ca, days=-3.5).write(tmp_path / "old")
    out = run(files=[str(crt)])
    assert out.status == Status.CRITICAL and "证书已过期 3 天" in out.summary
    now = datetime.now(timezone.utc)
    crt, _ = make_cert("future.example", issuer=ca, not_before=now + timedelta(days=2),
                       not_after=now + timedelta(days=400)).write(tmp_path / "future")
    out = run(files=[str(crt)])
    assert out.status == Status.CRITICAL and "尚未生效" in out.summary


def test_der_file(tmp_path: Path, ca: Issued) -> None:
    p = tmp_path / "seal.cer"
    p.write_bytes(make_cert("der.example", issuer=ca, days=50).der)
    out = run(files=[str(p)])
    assert out.status == Status.OK and "CN=der.example" in out.summary


def test_pkcs12_with_password_and_password_file(tmp_path: Path, ca: Issued) -> None:
    leaf = make_cert("p12.example", issuer=ca, days=3.2)
    p = tmp_path / "seal.p12"
    p.write_bytes(leaf.pkcs12(b"s3cret", chain=[ca]))
    out = run(files=[str(p)], password="s3cret")
    assert out.status == Status.CRITICAL and "将在 3 天后过期" in out.summary
    assert out.details["certificates"][0]["certificates_in_file"] == 2
    pw = tmp_path / "p12.pass"
    pw.write_text("s3cret\n")
    assert run(files=[str(p)], password_file=str(pw)).status == Status.CRITICAL
    wrong = run(files=[str(p)], password="nope")
    assert wrong.status == Status.UNKNOWN and "密码错误" in wrong.summary
    assert "nope" not in wrong.summary


def test_missing_and_garbage_files(tmp_path: Path) -> None:
    out = run(files=[str(tmp_path / "absent.pem")])
    assert out.status == Status.CRITICAL and "不存在" in out.summary
    junk = tmp_path / "junk.crt"
    junk.write_bytes(b"hello, not a certificate")
    assert run(files=[str(junk)]).status == Status.UNKNOWN


def test_several_files_summary_lists_problems_first(tmp_path: Path, ca: Issued) -> None:
    good, _ = make_cert("good.example", issuer=ca, days=200).write(tmp_path / "good")
    bad, _ = make_cert("bad.example", issuer=ca, days=-1.5).write(tmp_path / "bad")
    out = run(files=[str(good), str(bad)])
    assert out.status == Status.CRITICAL
    assert "bad.example" in out.summary and "good.example" not in out.summary
    assert {m.name for m in out.metrics} == {"days_left:good.example", "days_left:bad.example"}
    same = run(files=[str(good), str(good)])
    assert [m.name for m in same.metrics] == ["days_left:good.example", f"days_left:{good}"]
    assert "共 2 项均正常" in same.summary


def _tls_server(ctx: ssl.SSLContext) -> tuple[int, socket.socket, dict[str, str]]:
    seen: dict[str, str] = {}

    def remember_sni(sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        seen["sni"] = name or ""

    ctx.sni_callback = remember_sni  # type: ignore[assignment]
    def answer(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)

    port, srv = serve_loopback(answer)
    return port, srv, seen


@pytest.fixture
def expired_endpoint(tmp_path: Path, ca: Issued) -> Iterator[tuple[int, dict[str, str]]]:
    port, srv, seen = _tls_server(make_cert("seal.example", issuer=ca, days=-10.5).server_context(tmp_path))
    yield port, seen
    srv.close()


def test_tls_endpoint_expired_is_read_despite_failed_verification(
        expired_endpoint: tuple[int, dict[str, str]]) -> None:
    port, seen = expired_endpoint
    out = run(endpoints=[f"localhost:{port}"])
    assert out.status == Status.CRITICAL
    assert "证书已过期 10 天" in out.summary and "CN=seal.example" in out.summary
    assert metric(out, "days_left:seal.example").value < -10
    assert seen["sni"] == "localhost"


def test_tls_endpoint_sends_configured_sni(expired_endpoint: tuple[int, dict[str, str]]) -> None:
    port, seen = expired_endpoint
    run(endpoints=[f"127.0.0.1:{port}"], server_name="seal.example")
    assert seen["sni"] == "seal.example"


def test_tls_endpoint_valid(tmp_path: Path, ca: Issued) -> None:
    port, srv, _ = _tls_server(make_cert("voucher.example", issuer=ca, days=90).server_context(tmp_path))
    try:
        out = run(endpoints=[f"127.0.0.1:{port}"])
    finally:
        srv.close()
    assert out.status == Status.OK
    assert f"[127.0.0.1:{port}]" in out.summary


def test_tls_endpoint_refused_and_not_tls() -> None:
    port = closed_port()
    out = run(endpoints=[f"127.0.0.1:{port}"])
    assert out.status == Status.CRITICAL and "连接被拒绝" in out.summary
    def talk_plain(conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    port, plain = serve_loopback(talk_plain)
    try:
        out = run(endpoints=[f"127.0.0.1:{port}"], connect_timeout="3s")
    finally:
        plain.close()
    assert out.status == Status.CRITICAL and "TLS 握手失败" in out.summary


def test_options() -> None:
    assert split_endpoint("[::1]:8443") == ("::1", 8443)
    assert split_endpoint("seal.example:443") == ("seal.example", 443)
    with pytest.raises(ConfigError, match="at least one"):
        build(CertOptions, {}, "c")
    with pytest.raises(ConfigError, match="host:port"):
        build(CertOptions, {"endpoints": ["seal.example"]}, "c")
    with pytest.raises(ConfigError, match="not both"):
        build(CertOptions, {"files": ["a"], "password": "x", "password_file": "y"}, "c")
