"""Generic JSON webhook against a loopback receiver that checks the bearer token and HMAC signature."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from alerts.notify import Notification, build_channel
from tests.helpers.notify_servers import FakeService, Reply, scripted, webhook_receiver

TOKEN = "tok-5f2b8c1e9a7d4e3f"
HMAC_SECRET = "whsec-0d9c8b7a6f5e4d3c"


def alert() -> Notification:
    return Notification(kind="sla_breached", title="工单 XJ-1 SLA 已超时", severity="warning",
                        unit="某市财政局", system="seal", host="seal-01", ticket_no="XJ-1", id="0193-abc",
                        created_at=datetime(2026, 11, 25, 1, 0, tzinfo=timezone.utc))


def hook(svc: FakeService, **kw: object):
    return build_channel({"name": "hook", "type": "webhook", "url": svc.url + "/xunjian", **kw})


def test_json_body_with_bearer_and_signature():
    with FakeService(webhook_receiver(TOKEN, HMAC_SECRET)) as svc:
        ch = hook(svc, token=TOKEN, hmac_secret=HMAC_SECRET, headers={"X-Tenant": "cz"})
        result = ch.send(alert())
    assert result.ok and result.status == 204, result
    req = svc.requests[0]
    assert req.headers["X-Tenant"] == "cz"
    body = req.json()
    assert body["kind"] == "sla_breached" and body["kind_label"] == "SLA 已超时"
    assert body["severity"] == "warning" and body["severity_label"] == "警告"
    assert body["system_label"] == "电子印章系统" and body["id"] == "0193-abc"
    assert body["created_at"] == "2026-11-25T01:00:00+00:00"
    assert Notification.from_dict(body) == alert()  # extra keys ignored, the rest round-trips
    assert TOKEN not in repr(ch) and HMAC_SECRET not in repr(ch.options)


def test_bad_signature_is_rejected_permanently():
    with FakeService(webhook_receiver(TOKEN, HMAC_SECRET)) as svc:
        result = hook(svc, token=TOKEN, hmac_secret="whsec-wrong-secret").send(alert())
    assert result.permanent and result.status == 403


def test_bad_token_is_permanent_and_masked():
    with FakeService(webhook_receiver(TOKEN)) as svc:
        ch = hook(svc, token="tok-not-the-right-one")
        result = ch.send(alert())
    assert result.permanent and result.status == 401
    assert "tok-not-the-right-one" not in result.error


@pytest.mark.parametrize(("reply", "retryable", "after"), [
    (Reply(status=503, headers={"Retry-After": "120"}), True, 120),
    (Reply(status=429), True, 60),
    (Reply(status=500), True, None),
    (Reply(status=422, body={"error": "unprocessable"}), False, None),
    (Reply(status=200, body={"whatever": 1}), None, None),
])
def test_status_mapping(reply, retryable, after):
    with FakeService(scripted(reply)) as svc:
        result = hook(svc).send(alert())
    if retryable is None:
        assert result.ok
    else:
        assert result.retryable is retryable and result.permanent is not retryable
        assert result.retry_after == after


def test_retry_after_http_date():
    from checks.retry_after import parse_retry_after
    now = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after("Wed, 25 Nov 2026 08:01:30 GMT", now) == 90
    assert parse_retry_after("30", now) == 30
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_configured_proxy_carries_the_post():
    # The loopback service plays an HTTP proxy: it receives the absolute URL's request for the target host.
    with FakeService(scripted(Reply(status=204))) as proxy:
        ch = build_channel({"name": "hook", "type": "webhook", "url": "http://receiver.example.cn/xunjian",
                            "proxy": proxy.url})
        result = ch.send(alert())
    assert result.ok and result.status == 204, result
    assert proxy.requests[0].headers["Host"] == "receiver.example.cn"
    assert proxy.requests[0].path == "/xunjian"


def test_environment_proxy_is_ignored(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")   # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with FakeService(scripted(Reply(status=200))) as svc:
        result = hook(svc).send(alert())
    assert result.ok and len(svc.requests) == 1
