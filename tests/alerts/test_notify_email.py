"""E-mail channel against a real SMTP server (aiosmtpd) on loopback: plain, STARTTLS + AUTH, SMTPS."""
from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Optional

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.notify import Notification, build_channel
from tests.helpers.certs import make_ca, make_cert

PASSWORD = "Pa55-w0rd-for-smtp"


class Store:
    """An aiosmtpd handler that keeps messages and can refuse recipients or data like a real MTA."""

    def __init__(self, refuse: tuple[str, ...] = (), data_reply: Optional[str] = None) -> None:
        self.messages: list[tuple[Any, email.message.EmailMessage]] = []
        self.refuse, self.data_reply = refuse, data_reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((envelope, msg))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(handler: Store, **kw: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kw)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"xunjian" \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def alert() -> Notification:
    return Notification(kind="ticket_opened", title="消息中间件队列积压 12000 条", severity="critical",
                        text="队列 Q.VOUCHER.IN 深度 12000，超过严重阈值 10000。", unit="某市财政局",
                        system="mq", host="mq-01", ticket_no="XJ-20261125-0007",
                        url="https://xunjian.example.cn/tickets/7",
                        created_at=datetime(2026, 11, 25, 2, 15, tzinfo=timezone.utc))


SUBJECT = "[巡检][严重] 某市财政局 消息中间件队列积压 12000 条 (工单 XJ-20261125-0007)"


def mail(port: int, **kw: Any):
    return build_channel({"name": "ops-mail", "type": "email", "host": "127.0.0.1", "port": port,
                          "from": "巡检平台 <xunjian@example.cn>", "to": ["ops@example.cn"], "timeout": "5s", **kw})


def test_plain_smtp_delivers_zh_subject_and_body():
    store = Store()
    with smtp_server(store) as port:
        result = mail(port, to=["ops@example.cn", "李工 <li@example.cn>"]).send(alert())
    assert result.ok and not result.error, result
    envelope, msg = store.messages[0]
    assert envelope.mail_from == "xunjian@example.cn"
    assert envelope.rcpt_tos == ["ops@example.cn", "li@example.cn"]
    raw = envelope.original_content.decode("ascii")  # 7-bit on the wire: headers RFC 2047, body base64
    assert "=?utf-8?" in raw
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].display_name == "巡检平台"
    assert msg["X-Xunjian-Kind"] == "ticket_opened"
    body = msg.get_body(("plain",)).get_content()
    assert "队列 Q.VOUCHER.IN 深度 12000" in body
    assert "系统: 消息中间件" in body and "时间: 2026-11-25 10:15:00" in body
    assert "详情: https://xunjian.example.cn/tickets/7" in body


@pytest.mark.real_clock  # OpenSSL verifies the certificate with the system clock, not Python's
def test_starttls_with_auth(tmp_path):
    ca = make_ca()
    ca_file, _ = ca.write(tmp_path / "ca")
    tls = make_cert("127.0.0.1", issuer=ca).server_context(tmp_path)
    store = Store()
    with smtp_server(store, tls_context=tls, require_starttls=True, authenticator=authenticate,
                     auth_require_tls=True) as port:
        good = mail(port, security="starttls", ca_file=str(ca_file), user="xunjian", password=PASSWORD)
        ok = good.send(alert())
        bad = mail(port, security="starttls", ca_file=str(ca_file), user="xunjian", password="wrong-password")
        refused = bad.send(alert())
        untrusted = mail(port, security="starttls", user="xunjian", password=PASSWORD).send(alert())
    assert ok.ok, ok
    assert store.messages[0][1]["Subject"] == SUBJECT
    assert refused.permanent and refused.status == 535
    assert "wrong-password" not in refused.error and "wrong-password" not in repr(bad.options)
    assert PASSWORD not in repr(good.options)
    assert untrusted.permanent and "证书" in untrusted.error


@pytest.mark.real_clock  # OpenSSL verifies the certificate with the system clock, not Python's
def test_implicit_tls(tmp_path):
    ca = make_ca()
    ca_file, _ = ca.write(tmp_path / "ca")
    store = Store()
    with smtp_server(store, ssl_context=make_cert("127.0.0.1", issuer=ca).server_context(tmp_path)) as port:
        result = mail(port, security="ssl", ca_file=str(ca_file)).send(alert())
    assert result.ok, result
    assert store.messages[0][1]["Subject"] == SUBJECT


def test_all_recipients_refused_is_permanent():
    with smtp_server(Store(refuse=("ops@example.cn",))) as port:
        result = mail(port).send(alert())
    assert result.permanent and result.status == 550 and "ops@example.cn" in result.error


def test_some_recipients_refused_is_delivered_with_a_note():
    store = Store(refuse=("gone@example.cn",))
    with smtp_server(store) as port:
        result = mail(port, to=["ops@example.cn", "gone@example.cn"]).send(alert())
    assert result.ok and "gone@example.cn" in result.error
    assert store.messages[0][0].rcpt_tos == ["ops@example.cn"]


def test_temporary_smtp_failure_is_retryable():
    with smtp_server(Store(data_reply="451 4.3.0 Mail server temporarily rejected message")) as port:
        result = mail(port).send(alert())
    assert result.retryable and result.status == 451


def test_connection_refused_is_retryable():
    result = mail(free_port()).send(alert())
    assert result.retryable and "连接失败" in result.error


def test_starttls_unsupported_is_permanent():
    with smtp_server(Store()) as port:
        result = mail(port, security="starttls").send(alert())
    assert result.permanent and "STARTTLS" in result.error


@pytest.mark.parametrize(("options", "message"), [
    ({"to": []}, "missing option 'to'"),
    ({"to": ["not-an-address"]}, "not a mail address"),
    ({"user": "xunjian"}, "user and password go together"),
    ({"security": "tls"}, "must be one of"),
    ({"form": "x@example.cn"}, "did you mean 'from'"),
])
def test_config_errors(options, message):
    from checks.options import ConfigError
    with pytest.raises(ConfigError, match=message):
        mail(25, **options)
