"""Notifications end to end: tickets enqueue into the outbox, the delivery job sends to real local
robot/webhook servers (signatures checked by the servers), bursts fold into digests within the robots'
rate limits, failing channels back off, and a hanging channel never holds up ingest."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from checks.model import Status
from collector.app import create_app
from collector.config import Settings
from collector.db import utcnow
from collector.notifications.models import OutboxMessage
from collector.notifications.service import MAX_ATTEMPTS, deliver_due
from collector.runtime import runtime
from tests.collector.conftest import Api
from tests.collector.factories import batch, minutes_ago, result
from tests.helpers.net import closed_port
from tests.helpers.notify_servers import FakeService, Reply, Request, dingtalk, webhook_receiver

TOKEN, SECRET, HOOK_TOKEN, HOOK_SECRET = "t0k", "SECabc123", "hook-token", "hook-hmac"


class Recorder:
    """Wraps a fake service's handler and keeps its replies, to see what the 'service' said."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.replies: list[Reply] = []

    def __call__(self, req: Request) -> Reply:
        reply = self.handler(req)
        self.replies.append(reply)
        return reply


@contextmanager
def collector(db_url: str, notify: dict[str, Any]) -> Iterator[Api]:
    app = create_app(Settings(db_url=db_url, jobs_enabled=False, notify=notify))
    with TestClient(app) as client:
        yield Api(client)


def channels(ding_url: str | None = None, hook_url: str | None = None, **hook: Any) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    if ding_url:
        out.append({"name": "ding", "type": "dingtalk", "url": f"{ding_url}/robot/send?access_token={TOKEN}",
                    "secret": SECRET})
    if hook_url:
        out.append({"name": "hook", "type": "webhook", "url": f"{hook_url}/xunjian", "token": HOOK_TOKEN,
                    "hmac_secret": HOOK_SECRET, **hook})
    return {"channels": out}


def rows(api: Api, **where: Any) -> list[OutboxMessage]:
    with api.app.state.sessionmaker() as db:
        q = sa.select(OutboxMessage).order_by(OutboxMessage.id)
        for k, v in where.items():
            q = q.where(getattr(OutboxMessage, k) == v)
        return list(db.scalars(q))


def deliver(api: Api, now: Any = None) -> int:
    return deliver_due(factory=api.app.state.sessionmaker, config=runtime(api.app.state.settings).notify,
                       now=now or utcnow())


def faults(n: int, start: int = 0) -> dict[str, Any]:
    """One batch with n failing checks of web01: n tickets."""
    return batch(*[result(check=f"voucher-send-{i}", status=Status.CRITICAL, at=minutes_ago(1))
                   for i in range(start, start + n)])


def test_ticket_is_routed_enqueued_and_delivered_signed(db_url):
    ding, hook = Recorder(dingtalk(TOKEN, SECRET)), Recorder(webhook_receiver(HOOK_TOKEN, HOOK_SECRET))
    with FakeService(ding) as dsvc, FakeService(hook) as hsvc:
        notify = {**channels(dsvc.url, hsvc.url),
                  "routes": [{"match": {"system": ["voucher"], "min_severity": "critical"}, "channels": ["ding"],
                              "continue": True},
                             {"channels": ["hook"]}]}
        with collector(db_url, notify) as api:
            assert api.post_results(faults(1)).status_code == 200
            [t] = api.get("/api/v1/tickets")["items"]
            queued = rows(api)
            assert sorted((r.channel, r.kind, r.status) for r in queued) == [
                ("ding", "ticket_opened", "pending"), ("hook", "ticket_opened", "pending")]
            assert all(r.ticket_id == t["id"] for r in queued)
            assert dsvc.requests == [] and hsvc.requests == []  # ingest only wrote the outbox

            runner = api.app.state.jobs  # the collector's own delivery job
            assert runner.run_one(next(j for j in runner.jobs if j.name == "notifications"), utcnow())
            assert [r.status for r in rows(api)] == ["sent", "sent"]
            # the robot checked its 加签 and the receiver its bearer token and HMAC over the raw body
            assert [r.body["errcode"] for r in ding.replies] == [0]
            assert [r.status for r in hook.replies] == [204]
            [req] = hsvc.requests
            body = req.json()
            assert t["number"] in str(body) and "web01" in str(body)
            assert req.headers["X-Xunjian-Signature"].startswith("sha256=")
            [dreq] = dsvc.requests
            assert dreq.param("sign") and t["number"] in dreq.json()["markdown"]["text"]

            # a warning on another system takes the default route only; resolution is announced too
            api.post_results(batch(result(check="root-disk", system="os", status=Status.WARNING,
                                          at=minutes_ago(1))))
            api.post_results(batch(*[result(status=Status.OK, check="voucher-send-0", at=minutes_ago(0.5 - i / 10))
                                     for i in range(3)]))
            assert deliver(api) == 2
            # (a resolution is "info": below the robot route's min_severity)
            assert [(r.channel, r.kind) for r in rows(api)][2:] == [("hook", "ticket_opened"),
                                                                    ("hook", "ticket_resolved")]
            assert len(dsvc.requests) == 1 and len(hsvc.requests) == 3


def test_burst_is_folded_into_a_digest_and_the_robot_limit_is_never_exceeded(db_url):
    ding = Recorder(dingtalk(TOKEN, SECRET))  # 20 messages a minute, as DingTalk enforces it
    with FakeService(ding) as dsvc:
        notify = {**channels(dsvc.url), "routes": [{"channels": ["ding"]}]}
        with collector(db_url, notify) as api:
            api.post_results(faults(30))
            assert len(api.get("/api/v1/tickets?status=open")["items"]) == 30
            assert len(rows(api, channel="ding", status="pending")) == 30
            assert deliver(api) == 1
            [digest] = rows(api, kind="digest")
            assert digest.status == "sent"
            assert all(r.status == "sent" and r.digest_id == digest.id for r in rows(api, kind="ticket_opened"))
            [req] = dsvc.requests
            md = req.json()["markdown"]
            assert "30 条" in md["title"] and "另有 20 条未列出" in md["text"]

            # Then smaller bursts within the same minute: sent one by one while slots last, folded when
            # they no longer fit, held back once 20 messages went out in the window.
            for round_ in range(8):
                api.post_results(faults(4, start=100 + 4 * round_))
                deliver(api)
            assert len(dsvc.requests) == 20
            assert all(r.body["errcode"] == 0 for r in ding.replies), [r.body for r in ding.replies]
            held = rows(api, channel="ding", status="pending")
            assert len(held) == 4 and all(r.attempts == 0 for r in held)
            # all of it happened within one window of the robot's limit
            sent_at = [r.sent_at for r in rows(api, status="sent", digest_id=None)]
            assert max(sent_at) - min(sent_at) < timedelta(seconds=60)


def test_unreachable_channel_retries_with_backoff_then_gives_up_and_ingest_goes_on(db_url):
    notify = {**channels(hook_url=f"http://127.0.0.1:{closed_port()}"), "routes": [{"channels": ["hook"]}]}
    with collector(db_url, notify) as api:
        assert api.post_results(faults(1)).status_code == 200
        now = utcnow()
        assert deliver(api, now) == 0
        [row] = rows(api)
        assert (row.status, row.attempts) == ("pending", 1)
        assert "连接失败" in row.last_error and HOOK_TOKEN not in row.last_error
        assert row.next_attempt_at == now + timedelta(seconds=30)
        assert deliver(api, now + timedelta(seconds=29)) == 0
        assert rows(api)[0].attempts == 1  # not due yet: not tried
        delays = []
        t = now
        for _ in range(MAX_ATTEMPTS - 1):
            t = rows(api)[0].next_attempt_at
            deliver(api, t)
            r = rows(api)[0]
            if r.status == "pending":
                delays.append((r.next_attempt_at - t).total_seconds())
        assert delays == [60, 120, 240, 480, 960, 1920]
        [row] = rows(api)
        assert (row.status, row.attempts) == ("dead", MAX_ATTEMPTS)
        # ingest never waited for the channel
        assert api.post_results(faults(1, start=1)).status_code == 200
        assert len(api.get("/api/v1/tickets")["items"]) == 2


def test_hanging_channel_does_not_hold_ingest(db_url):
    release = threading.Event()
    arrived = threading.Event()

    def hang(req: Request) -> Reply:
        arrived.set()
        release.wait(30)
        return Reply(status=204)

    with FakeService(hang) as svc:
        notify = {**channels(hook_url=svc.url, timeout="60s"), "routes": [{"channels": ["hook"]}]}
        with collector(db_url, notify) as api:
            api.post_results(faults(1))
            sender = threading.Thread(target=deliver, args=(api,), daemon=True)
            others = threading.Thread(target=deliver, args=(api,), daemon=True)
            sender.start()
            try:
                assert arrived.wait(10), "the delivery job never reached the server"
                # while the server holds the send, agents keep reporting and tickets keep opening
                for i in range(3):
                    r = api.post_results(faults(1, start=10 + i))
                    assert r.status_code == 200 and r.json()["accepted"] == 1
                assert len(api.get("/api/v1/tickets")["items"]) == 4
                assert sender.is_alive(), "the send should still be held by the server"
                assert len(rows(api, status="pending")) == 4
                # another run of the job (as another collector process would) leaves the send under
                # way alone and takes the next rows
                others.start()
                deadline = time.monotonic() + 10
                while len(svc.requests) < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert len(svc.requests) == 2
            finally:
                release.set()
                sender.join(30)
                if others.ident is not None:
                    others.join(30)
            assert not sender.is_alive() and not others.is_alive()
            deliver(api)
            assert [r.status for r in rows(api)] == ["sent"] * 4
            numbers = [req.json()["ticket_no"] for req in svc.requests]
            assert len(numbers) == 4 and len(set(numbers)) == 4, numbers  # each sent exactly once


def test_nothing_is_queued_without_channels(api):
    api.post_results(faults(2))
    assert rows(api) == []
