"""DingTalk, Feishu and WeCom channels against loopback robots that verify signatures like the real ones."""
from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest

from alerts.notify import Notification, build_channel
from alerts.notify.base import Channel
from tests.helpers.certs import make_ca, make_cert
from tests.helpers.notify_servers import FakeService, Reply, dingtalk, feishu, scripted, wecom

TOKEN = "0123456789abcdef0123456789abcdef"
SECRET = "SEC3d5ad1a1b7c5e04f0a9d2c1f7e6b5a4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8"


def alert(**kw: object) -> Notification:
    values: dict = dict(kind="ticket_opened", title="磁盘使用率 95%", text="/var 使用率 95%，超过严重阈值 90%",
                        severity="critical", unit="某市财政局", system="voucher", host="vch-app-01",
                        ticket_no="XJ-20261125-0001", url="https://xunjian.example.cn/tickets/1",
                        created_at=datetime(2026, 11, 25, 6, 30, tzinfo=timezone.utc))
    values.update(kw)
    return Notification(**values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_no_secrets(ch: Channel, *texts: str) -> None:
    for text in (*texts, repr(ch), repr(ch.options)):
        for secret in (TOKEN, SECRET):
            assert secret not in text


# --- DingTalk ---------------------------------------------------------------------------------

def ding(svc: FakeService, secret: str | None = SECRET, **kw: object):
    data = {"name": "ding", "type": "dingtalk", "url": f"{svc.url}/robot/send?access_token={TOKEN}", **kw}
    if secret:
        data["secret"] = secret
    return build_channel(data)


def test_dingtalk_signed_markdown_is_accepted():
    with FakeService(dingtalk(TOKEN, SECRET)) as svc:
        ch = ding(svc, at_mobiles=["13800000000"])
        result = ch.send(alert())
    assert result.ok and not result.error, result
    req = svc.requests[0]
    assert req.param("timestamp") and req.param("sign")
    body = req.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "[巡检][严重] 某市财政局 磁盘使用率 95% (工单 XJ-20261125-0001)"
    assert "/var 使用率 95%" in body["markdown"]["text"]
    assert "- **时间**: 2026-11-25 14:30:00" in body["markdown"]["text"]  # shown in China time
    assert "@13800000000" in body["markdown"]["text"]
    assert body["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}


def test_dingtalk_wrong_secret_is_permanent_and_masked():
    with FakeService(dingtalk(TOKEN, SECRET)) as svc:
        ch = ding(svc, secret="SECwrong-secret-value")
        result = ch.send(alert())
    assert not result.ok and result.permanent and result.status == 310000
    assert "sign not match" in result.error
    assert_no_secrets(ch, result.error)


def test_dingtalk_unsigned_robot_without_secret():
    with FakeService(dingtalk(TOKEN, None)) as svc:
        result = ding(svc, secret=None).send(alert())
    assert result.ok
    assert svc.requests[0].param("sign") is None


def test_dingtalk_twenty_a_minute_then_rate_limited():
    with FakeService(dingtalk(TOKEN, SECRET, limit=20)) as svc:
        ch = ding(svc)
        results = [ch.send(alert(title=f"告警 {i}")) for i in range(21)]
    assert all(r.ok for r in results[:20])
    last = results[20]
    assert not last.ok and not last.permanent and last.retryable
    assert last.status == 130101
    assert last.retry_after == 600  # DingTalk throttles for 10 minutes
    assert ch.rate_limit.limit == 20 and ch.rate_limit.window == 60


def test_dingtalk_system_busy_is_retried():
    reply = Reply(body={"errcode": -1, "errmsg": "系统繁忙"})
    with FakeService(scripted(reply)) as svc:
        result = ding(svc).send(alert())
    assert result.retryable and result.retry_after is None and "系统繁忙" in result.error


# --- Feishu -----------------------------------------------------------------------------------

HOOK = "5e3d587e-d78e-4a07-bd07-265f269f86fd"


def lark(svc: FakeService, secret: str | None = SECRET):
    data = {"name": "feishu", "type": "feishu", "url": f"{svc.url}/open-apis/bot/v2/hook/{HOOK}"}
    if secret:
        data["secret"] = secret
    return build_channel(data)


def test_feishu_signed_card_is_accepted():
    with FakeService(feishu(HOOK, SECRET)) as svc:
        result = lark(svc).send(alert())
    assert result.ok, result
    body = svc.requests[0].json()
    assert body["timestamp"].isdigit() and body["sign"]
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["template"] == "red"
    assert body["card"]["header"]["title"]["content"].startswith("[巡检][严重] 某市财政局")
    content = body["card"]["elements"][0]["text"]["content"]
    assert "###" not in content and "- **主机**: vch-app-01" in content


def test_feishu_wrong_secret_is_permanent_and_masked():
    with FakeService(feishu(HOOK, SECRET)) as svc:
        ch = lark(svc, secret="another-secret")
        result = ch.send(alert())
    assert result.permanent and result.status == 19021
    assert HOOK not in result.error and HOOK not in repr(ch) and HOOK not in repr(ch.options)


def test_feishu_rate_limited_reply_becomes_retry_after():
    with FakeService(feishu(HOOK, SECRET, limit=1)) as svc:
        ch = lark(svc)
        first, second = ch.send(alert()), ch.send(alert())
    assert first.ok
    assert second.retryable and second.status == 11232 and second.retry_after == 60


def test_feishu_old_reply_shape_statuscode():
    with FakeService(scripted(Reply(body={"Extra": None, "StatusCode": 0, "StatusMessage": "success"}))) as svc:
        assert lark(svc).send(alert()).ok


# --- WeCom ------------------------------------------------------------------------------------

KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def test_wecom_markdown_is_accepted_and_long_text_truncated():
    with FakeService(wecom(KEY)) as svc:
        ch = build_channel({"name": "wecom", "type": "wecom", "url": f"{svc.url}/cgi-bin/webhook/send?key={KEY}"})
        result = ch.send(alert(text="磁盘空间不足。" * 2000))
    assert result.ok, result
    content = svc.requests[0].json()["markdown"]["content"]
    assert len(content.encode()) <= 4096 and "已截断)" in content
    assert content.endswith("[查看详情](https://xunjian.example.cn/tickets/1)")  # facts and link survive
    assert '<font color="warning">严重</font>' in content
    assert KEY not in repr(ch)


def test_wecom_rate_limit_45009():
    with FakeService(wecom(KEY, limit=2)) as svc:
        ch = build_channel({"name": "wecom", "type": "wecom", "url": f"{svc.url}/cgi-bin/webhook/send?key={KEY}"})
        results = [ch.send(alert()) for _ in range(3)]
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].status == 45009 and results[2].retry_after == 60 and not results[2].permanent


def test_wecom_invalid_key_is_permanent():
    with FakeService(wecom(KEY)) as svc:
        ch = build_channel({"name": "wecom", "type": "wecom", "url": f"{svc.url}/cgi-bin/webhook/send?key=nope-1234"})
        result = ch.send(alert())
    assert result.permanent and result.status == 93000 and "nope-1234" not in result.error


# --- transport failures, common to all robots ---------------------------------------------------

@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(status):
    with FakeService(scripted(Reply(status=status, body=b"<html>bad gateway</html>",
                                    headers={"Content-Type": "text/html"}))) as svc:
        result = ding(svc).send(alert())
    assert result.retryable and result.status == status


def test_http_429_uses_retry_after_header():
    with FakeService(scripted(Reply(status=429, body=b"slow down", headers={"Retry-After": "42"}))) as svc:
        result = ding(svc).send(alert())
    assert result.retryable and result.retry_after == 42


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_are_permanent(status):
    with FakeService(scripted(Reply(status=status, body=b"no"))) as svc:
        result = ding(svc).send(alert())
    assert result.permanent and result.status == status


def test_redirect_is_not_followed():
    with FakeService(scripted(Reply(status=302, headers={"Location": "http://127.0.0.1:9/elsewhere"}))) as svc:
        result = ding(svc).send(alert())
    assert result.permanent and result.status == 302
    assert len(svc.requests) == 1


def test_connection_refused_is_retryable_and_masked():
    ch = build_channel({"name": "ding", "type": "dingtalk", "secret": SECRET,
                        "url": f"http://127.0.0.1:{free_port()}/robot/send?access_token={TOKEN}"})
    result = ch.send(alert())
    assert result.retryable and "连接失败" in result.error
    assert_no_secrets(ch, result.error)


def test_timeout_is_retryable():
    with FakeService(scripted(Reply(body={"errcode": 0, "errmsg": "ok"}), delay=2.0)) as svc:
        result = ding(svc, timeout="0.3s").send(alert())
    assert result.retryable


@pytest.mark.real_clock  # OpenSSL verifies the certificate with the system clock, not Python's
def test_https_with_private_ca(tmp_path):
    ca = make_ca()
    leaf = make_cert("127.0.0.1", issuer=ca)
    ca_file, _ = ca.write(tmp_path / "ca")
    with FakeService(dingtalk(TOKEN, SECRET), context=leaf.server_context(tmp_path)) as svc:
        trusted = ding(svc, ca_file=str(ca_file)).send(alert())
        untrusted = ding(svc).send(alert())
        unverified = ding(svc, verify_tls=False).send(alert())
    assert trusted.ok, trusted
    assert untrusted.permanent and "证书" in untrusted.error
    assert unverified.ok
