"""The SLA job finds tickets due soon and breached on its own (with `now` in hand), announces each once
through the outbox, escalates breaches, and /metrics counts them."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from collector.config import Settings
from collector.jobs.sla_timers import check_sla
from collector.notifications.models import OutboxMessage
from collector.runtime import runtime
from collector.tickets import workflow
from collector.tickets.models import Ticket
from tests.collector.test_tickets_workflow import taken_at
from tests.helpers.net import closed_port

CST = ZoneInfo("Asia/Shanghai")


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


@pytest.fixture
def settings(db_url: str) -> Settings:
    # A channel nobody listens on: rows are queued, nothing needs delivering here.
    return Settings(db_url=db_url, jobs_enabled=False, notify={
        "channels": [{"name": "hook", "type": "webhook", "url": f"http://127.0.0.1:{closed_port()}/x"}],
        "routes": [{"channels": ["hook"]}]})


def new_case(api: Any, reported: datetime, system: str = "voucher", channel: str = "phone") -> dict[str, Any]:
    r = api.client.post("/api/v1/tickets", headers=api.h(api.engineer_key), json={
        "channel": channel, "reported_at": reported.isoformat(), "description": "凭证发送失败",
        "customer_unit": "某市财政局", "system": system})
    assert r.status_code == 201, r.text
    return r.json()


def run_job(api: Any, now: datetime) -> dict[str, int]:
    rt = runtime(api.app.state.settings)
    with api.app.state.sessionmaker() as db:
        counts = check_sla(db=db, rt=rt, now=now)
        db.commit()
    return counts


def outbox(api: Any, kind: str) -> list[OutboxMessage]:
    with api.app.state.sessionmaker() as db:
        return list(db.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == kind)
                               .order_by(OutboxMessage.id)))


def scrape(api: Any) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    text = api.client.get("/metrics").text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_due_soon_and_breach_are_found_announced_once_and_escalated(api):
    # Tuesday 2026-03-10 09:00, phone: due 11:00
    t = new_case(api, cst(2026, 3, 10, 9, 0))
    assert t["response_due_at"] == "2026-03-10T11:00:00+08:00"
    assert run_job(api, cst(2026, 3, 10, 9, 20)) == {"due_soon": 0, "breached": 0}
    # 75 % of the two hours gone (or 30 min left): due soon
    assert run_job(api, cst(2026, 3, 10, 10, 31)) == {"due_soon": 1, "breached": 0}
    assert run_job(api, cst(2026, 3, 10, 10, 45)) == {"due_soon": 0, "breached": 0}  # announced once
    [soon] = outbox(api, "sla_due_soon")
    assert (soon.channel, soon.ticket_id, soon.status) == ("hook", t["id"], "pending")
    assert t["number"] in soon.payload["title"] and "11:00" in soon.payload["title"]
    m = scrape(api)
    assert m["xunjian_tickets_sla_due_soon"][(("system", "voucher"),)] == 1
    assert m["xunjian_sla_breaches_total"][()] == 0

    assert run_job(api, cst(2026, 3, 10, 11, 1)) == {"due_soon": 0, "breached": 1}
    assert run_job(api, cst(2026, 3, 10, 11, 30)) == {"due_soon": 0, "breached": 0}
    assert run_job(api, cst(2026, 3, 11, 9, 0)) == {"due_soon": 0, "breached": 0}
    [breach] = outbox(api, "sla_breached")
    assert breach.payload["severity"] == "critical" and t["number"] in breach.payload["title"]
    detail = api.get(f"/api/v1/tickets/{t['id']}")
    assert detail["response_sla"] == "breached" and detail["sla_state"] == "breached"
    with api.app.state.sessionmaker() as db:
        row = db.get(Ticket, t["id"])
        assert row.escalated_at == cst(2026, 3, 10, 11, 1)
        assert row.due_soon_at == cst(2026, 3, 10, 10, 31)
    kinds = [(e["kind"], e["actor"], e["at"]) for e in detail["timeline"]]
    assert ("sla_due_soon", "system", "2026-03-10T10:31:00+08:00") in kinds
    assert ("escalated", "system", "2026-03-10T11:01:00+08:00") in kinds
    m = scrape(api)
    assert m["xunjian_sla_breaches_total"][()] == 1
    assert m["xunjian_tickets_sla_due_soon"][(("system", "voucher"),)] == 0
    assert m["xunjian_tickets_sla_breached"][(("system", "voucher"),)] == 1

    # late acknowledgement keeps the verdict; the breach stays counted after the ticket is resolved
    r = api.client.patch(f"/api/v1/tickets/{t['id']}", headers=api.h(api.engineer_key),
                         json={"status": "resolved", "resolution": "已处理"})
    assert r.status_code == 200 and r.json()["response_sla"] == "breached"
    m = scrape(api)
    assert m["xunjian_sla_breaches_total"][()] == 1
    assert m["xunjian_tickets_sla_breached"][(("system", "voucher"),)] == 0


def test_job_counts_each_ticket_and_skips_responded_and_paused_ones(api):
    a = new_case(api, cst(2026, 3, 10, 9, 0), system="voucher")
    b = new_case(api, cst(2026, 3, 10, 9, 0), system="seal", channel="email")  # due 14:00
    c = new_case(api, cst(2026, 3, 10, 9, 0), system="mq")
    r = api.client.patch(f"/api/v1/tickets/{c['id']}", headers=api.h(api.engineer_key),
                         json={"status": "acknowledged"})
    assert r.status_code == 200
    rt = runtime(api.app.state.settings)
    with api.app.state.sessionmaker() as db:  # d waits for the customer from 09:30 on
        zhang, d = taken_at(db, rt, now=cst(2026, 3, 10, 9, 0), reported=cst(2026, 3, 10, 9))
        workflow.pend(db=db, ticket=d, actor=zhang, now=cst(2026, 3, 10, 9, 30), rt=rt)
        db.commit()
    # a is late; b (4 working hours) has one working hour left after lunch: 75 % gone
    assert run_job(api, cst(2026, 3, 10, 12, 0)) == {"due_soon": 1, "breached": 1}
    assert run_job(api, cst(2026, 3, 10, 13, 40)) == {"due_soon": 0, "breached": 0}
    assert run_job(api, cst(2026, 3, 10, 14, 1)) == {"due_soon": 0, "breached": 1}  # b
    assert [m.ticket_id for m in outbox(api, "sla_breached")] == [a["id"], b["id"]]
    m = scrape(api)
    assert m["xunjian_sla_breaches_total"][()] == 3  # a, b, and c, acknowledged long after its due time
    assert m["xunjian_tickets_sla_breached"][(("system", "seal"),)] == 1
    assert api.get(f"/api/v1/tickets/{d.id}")["sla_state"] == "pending"


def test_announcements_are_unique_even_if_the_job_state_is_lost(api):
    """The outbox's dedup key keeps one announcement per ticket and kind, also when the ticket's own
    marker is cleared (e.g. two collector processes racing on an old job claim)."""
    t = new_case(api, cst(2026, 3, 10, 9, 0))
    run_job(api, cst(2026, 3, 10, 11, 5))
    with api.app.state.sessionmaker() as db:
        db.get(Ticket, t["id"]).response_sla = None
        db.commit()
    run_job(api, cst(2026, 3, 10, 11, 10))
    assert len(outbox(api, "sla_breached")) == 1
