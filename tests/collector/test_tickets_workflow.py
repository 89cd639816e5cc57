"""Service tickets (系统服务单) taken by phone, e-mail, on site or remotely, and their workflow, on both
databases: due times as the contract says, acknowledge/assign/pending/resolve/close/reopen, the timeline."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from checks.model import Status
from collector.db import utcnow
from collector.runtime import runtime
from collector.sla import working_time_between
from collector.tickets import workflow
from collector.tickets.models import Ticket
from collector.timefmt import parse_iso
from collector.users import service as users
from tests.collector.factories import batch, minutes_ago, result

CST = ZoneInfo("Asia/Shanghai")


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def case(**kw: Any) -> dict[str, Any]:
    """The paper form's fields (系统服务单)."""
    return {"channel": "phone", "urgent": False, "customer_name": "王会计", "customer_unit": "某市财政局",
            "room": "301", "description": "电子凭证库无法发送凭证, 报错 连接超时", "system": "voucher", **kw}


def open_case(api: Any, **kw: Any) -> dict[str, Any]:
    body = case(**kw)
    if isinstance(body.get("reported_at"), datetime):
        body["reported_at"] = body["reported_at"].isoformat()
    r = api.client.post("/api/v1/tickets", json=body, headers=api.h(api.engineer_key))
    assert r.status_code == 201, r.text
    return r.json()


def patch(api: Any, ticket: dict[str, Any], key: str | None = None, **body: Any) -> Any:
    return api.client.patch(f"/api/v1/tickets/{ticket['id']}", json=body, headers=api.h(key or api.engineer_key))


def ok_patch(api: Any, ticket: dict[str, Any], **body: Any) -> dict[str, Any]:
    r = patch(api, ticket, **body)
    assert r.status_code == 200, r.text
    return r.json()


# -- due times on the contract's working calendar --------------------------------------------------

DUE_CASES = [
    # (channel, urgent, reported_at (Asia/Shanghai), due): a normal week of March 2026
    ("phone", False, cst(2026, 3, 10, 9, 0), "2026-03-10T11:00:00+08:00"),    # 2 working hours
    ("email", False, cst(2026, 3, 10, 10, 0), "2026-03-10T15:00:00+08:00"),   # 4 working hours, lunch skipped
    ("onsite", False, cst(2026, 3, 10, 16, 0), "2026-03-10T18:00:00+08:00"),
    ("remote", False, cst(2026, 3, 10, 17, 0), "2026-03-11T09:00:00+08:00"),
    ("phone", False, cst(2026, 3, 13, 17, 30), "2026-03-16T09:30:00+08:00"),  # Friday 17:30 → Monday 09:30
    ("phone", True, cst(2026, 3, 10, 20, 0), "2026-03-11T00:00:00+08:00"),    # urgent, evening: 4 clock hours
    ("email", True, cst(2026, 3, 14, 10, 0), "2026-03-14T14:00:00+08:00"),    # urgent on a Saturday
    ("email", True, cst(2026, 3, 10, 9, 0), "2026-03-10T11:00:00+08:00"),     # urgent in hours: 2 working h
    # National Day 2026: 10-01 … 10-07 are holidays, work resumes Thursday 10-08
    ("phone", False, cst(2026, 9, 30, 17, 0), "2026-10-08T09:00:00+08:00"),
    ("email", False, cst(2026, 10, 1, 10, 0), "2026-10-08T12:00:00+08:00"),
    ("phone", True, cst(2026, 10, 1, 10, 0), "2026-10-01T14:00:00+08:00"),    # urgent on the holiday
]


@pytest.mark.parametrize("channel,urgent,reported,due", DUE_CASES,
                         ids=[f"{c[0]}{'-urgent' if c[1] else ''}-{c[2]:%m%d-%H%M}" for c in DUE_CASES])
def test_case_gets_the_contract_due_time(api, channel, urgent, reported, due):
    t = open_case(api, channel=channel, urgent=urgent, reported_at=reported, engineer="zhang")
    assert re.fullmatch(rf"FW-{reported:%Y%m}-\d{{4}}", t["number"])
    assert t["response_due_at"] == due
    assert t["reported_at"] == reported.isoformat()
    assert (t["channel"], t["urgent"], t["source"], t["status"]) == (channel, urgent, "manual", "open")
    assert (t["customer_name"], t["customer_unit"], t["room"], t["system"]) == ("王会计", "某市财政局", "301",
                                                                                "voucher")
    assert (t["engineer_name"], t["engineer_number"]) == ("张工", "E01")
    assert t["description"].startswith("电子凭证库无法发送凭证")
    assert t["opened_at"].endswith("+08:00")


def test_numbers_count_per_month(api):
    a = open_case(api, reported_at=cst(2026, 3, 10, 9, 0))
    b = open_case(api, reported_at=cst(2026, 3, 11, 9, 0))
    c = open_case(api, reported_at=cst(2026, 4, 1, 9, 0))
    assert [a["number"], b["number"], c["number"]] == ["FW-202603-0001", "FW-202603-0002", "FW-202604-0001"]


def test_creating_needs_an_engineer_and_a_description(api):
    r = api.client.post("/api/v1/tickets", json=case(), headers=api.h(api.viewer_key))
    assert r.status_code == 403
    r = api.client.post("/api/v1/tickets", json=case())
    assert r.status_code == 401
    body = case()
    del body["description"]
    r = api.client.post("/api/v1/tickets", json=body, headers=api.h(api.engineer_key))
    assert r.status_code == 422
    assert r.json()["detail"]["errors"][0]["loc"][-1] == "description"
    r = api.client.post("/api/v1/tickets", json=case(description=""), headers=api.h(api.engineer_key))
    assert r.status_code == 422
    r = api.client.post("/api/v1/tickets", json=case(channel="fax"), headers=api.h(api.engineer_key))
    assert r.status_code == 422
    future = (utcnow() + timedelta(hours=2)).isoformat()
    r = api.client.post("/api/v1/tickets", json=case(reported_at=future), headers=api.h(api.engineer_key))
    assert r.status_code == 422
    r = api.client.post("/api/v1/tickets", json=case(engineer="nobody"), headers=api.h(api.engineer_key))
    assert r.status_code == 422
    assert api.get("/api/v1/tickets")["items"] == []


# -- workflow --------------------------------------------------------------------------------------

def test_acknowledge_in_time_is_met_and_late_is_breached(api):
    fresh = open_case(api, channel="email", reported_at=minutes_ago(1))
    late = open_case(api, channel="phone", reported_at=cst(2026, 3, 10, 9, 0))
    a = ok_patch(api, fresh, status="acknowledged", note="已电话联系客户")
    assert (a["status"], a["response_sla"], a["sla_state"]) == ("acknowledged", "met", "met")
    assert (a["engineer_name"], a["engineer_number"]) == ("张工", "E01")  # the responder, when unassigned
    b = ok_patch(api, late, status="acknowledged")
    assert (b["status"], b["response_sla"]) == ("acknowledged", "breached")
    assert parse_iso(b["acknowledged_at"]) > parse_iso(b["response_due_at"])
    again = ok_patch(api, b, status="acknowledged")  # the same status again changes nothing
    assert again["acknowledged_at"] == b["acknowledged_at"] and len(again["timeline"]) == len(b["timeline"])


def test_full_workflow_with_timeline(api):
    with api.app.state.sessionmaker() as db:
        users.add(db=db, name="li", role="engineer", display_name="李工", number="E02")
        db.commit()
    t = open_case(api, channel="remote", reported_at=minutes_ago(5))
    t = ok_patch(api, t, assignee="li", version=t["version"])
    assert (t["engineer_name"], t["engineer_number"]) == ("李工", "E02")
    assert patch(api, t, status="acknowledged", version=t["version"] - 1).status_code == 409  # stale version
    t = ok_patch(api, t, status="acknowledged", version=t["version"])
    assert t["engineer_name"] == "李工"  # acknowledging keeps the assigned engineer
    r = patch(api, t, status="resolved")
    assert r.status_code == 422 and "解决描述" in r.json()["detail"]["message"]
    r = patch(api, t, status="resolved", resolution="   ")
    assert r.status_code == 422
    assert patch(api, t, status="closed", satisfaction="满意").status_code == 409  # not resolved yet
    t = ok_patch(api, t, status="resolved", resolution="重启凭证发送服务后恢复")
    assert (t["status"], t["resolution"]) == ("resolved", "重启凭证发送服务后恢复")
    assert t["resolved_at"] is not None and t["resolved_at"].endswith("+08:00")
    t = ok_patch(api, t, status="closed", satisfaction="满意", satisfaction_comment="响应及时")
    assert (t["status"], t["satisfaction"], t["satisfaction_comment"]) == ("closed", "满意", "响应及时")
    assert t["closed_at"] is not None
    assert patch(api, t, status="closed", satisfaction="很好").status_code == 422
    t = ok_patch(api, t, satisfaction="基本满意")  # the customer changes their rating later
    assert t["satisfaction"] == "基本满意" and t["timeline"][-1]["data"] == {"satisfaction": ["满意", "基本满意"]}
    t = ok_patch(api, t, status="open", note="客户反映问题再次出现")
    assert (t["status"], t["resolved_at"], t["closed_at"]) == ("acknowledged", None, None)
    t = ok_patch(api, t, customer_name="李会计", room="302")
    assert (t["customer_name"], t["room"]) == ("李会计", "302")

    kinds = [e["kind"] for e in t["timeline"]]
    assert kinds == ["opened", "assigned", "acknowledged", "resolved", "closed", "edited", "reopened", "edited"]
    for e in t["timeline"]:
        assert e["actor"] == "zhang", e
        assert e["at"].endswith("+08:00")
    times = [parse_iso(e["at"]) for e in t["timeline"]]
    assert times == sorted(times)
    assert "李工" in t["timeline"][1]["text"]
    assert t["timeline"][-1]["data"] == {"customer_name": ["王会计", "李会计"], "room": ["301", "302"]}
    listed = api.get("/api/v1/tickets?status=acknowledged")["items"]
    assert [x["id"] for x in listed] == [t["id"]]


def test_viewer_cannot_change_and_unknown_ids_are_404(api):
    t = open_case(api)
    assert patch(api, t, key=api.viewer_key, status="acknowledged").status_code == 403
    assert api.client.get("/api/v1/tickets/987654", headers=api.h(api.viewer_key)).status_code == 404
    r = api.client.patch("/api/v1/tickets/987654", json={"status": "acknowledged"}, headers=api.h(api.engineer_key))
    assert r.status_code == 404
    assert patch(api, t, assignee="nobody").status_code == 422
    assert patch(api, t, assignee="viewer").status_code == 422  # only engineers take tickets
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert patch(api, t, reported_at=future).status_code == 422
    r = patch(api, t, customer_name=None, channel="auto")  # found by schemathesis: a 500 before
    assert r.status_code == 422 and "customer_name" in r.json()["detail"]["message"]
    assert api.get(f"/api/v1/tickets/{t['id']}")["timeline"][-1]["kind"] == "opened"


def test_pending_pauses_the_clock_through_the_api(api):
    t = open_case(api, channel="phone", reported_at=minutes_ago(1))
    due_before = parse_iso(t["response_due_at"])
    p = ok_patch(api, t, status="pending", note="等待客户提供日志")
    assert p["status"] == "pending" and p["sla_state"] == "pending"
    a = ok_patch(api, p, status="acknowledged")
    assert a["status"] == "acknowledged" and a["response_sla"] == "met"
    pend = next(parse_iso(e["at"]) for e in a["timeline"] if e["kind"] == "pending")
    back = next(parse_iso(e["at"]) for e in a["timeline"] if e["kind"] == "resumed")
    due_after = parse_iso(a["response_due_at"])
    cal = runtime(api.app.state.settings).calendar
    # the due time moved by exactly the paused working time (zero when paused outside working hours)
    assert working_time_between(due_before, due_after, calendar=cal) == working_time_between(pend, back,
                                                                                             calendar=cal)
    assert [e["kind"] for e in a["timeline"]] == ["opened", "pending", "resumed", "acknowledged"]


def taken_at(db: Any, rt: Any, *, now: datetime, reported: datetime) -> tuple[Any, Ticket]:
    """A phone case entered by zhang at `now` (the workflow with the clock in hand)."""
    zhang = users.get_by_name(db=db, name="zhang")
    t = workflow.create_manual(db=db, rt=rt, actor=zhang, now=now, number_prefix="FW", tz="Asia/Shanghai",
                               data=case(reported_at=reported))
    return zhang, t


def test_pending_pushes_the_due_time_by_the_paused_working_time(api):
    """The same rules with the clock in hand: Tuesday 09:00 phone case, due 11:00; waiting for the
    customer 09:30-10:30 moves it to 12:00; waiting over lunch 11:30-13:30 counts one working hour."""
    rt = runtime(api.app.state.settings)
    with api.app.state.sessionmaker() as db:
        zhang, t = taken_at(db, rt, now=cst(2026, 3, 10, 9, 5), reported=cst(2026, 3, 10, 9, 0))
        assert t.response_due_at == cst(2026, 3, 10, 11, 0)
        workflow.pend(db=db, ticket=t, actor=zhang, now=cst(2026, 3, 10, 9, 30), rt=rt)
        workflow.acknowledge(db=db, ticket=t, actor=zhang, now=cst(2026, 3, 10, 10, 30), rt=rt)
        assert t.status == "acknowledged" and t.response_due_at == cst(2026, 3, 10, 12, 0)
        assert t.response_sla == "met" and t.paused_seconds == 3600
        db.commit()
        tid = t.id
    with api.app.state.sessionmaker() as db:
        zhang, t = taken_at(db, rt, now=cst(2026, 3, 10, 11, 0), reported=cst(2026, 3, 10, 11, 0))
        assert t.response_due_at == cst(2026, 3, 10, 14, 0)
        workflow.pend(db=db, ticket=t, actor=zhang, now=cst(2026, 3, 10, 11, 30), rt=rt)
        workflow.resume(db=db, ticket=t, actor=zhang, now=cst(2026, 3, 10, 13, 30), rt=rt)
        assert t.status == "open" and t.response_due_at == cst(2026, 3, 10, 15, 0)
        db.commit()
    detail = api.get(f"/api/v1/tickets/{tid}")
    assert detail["response_due_at"] == "2026-03-10T12:00:00+08:00"
    assert [e["kind"] for e in detail["timeline"]] == ["opened", "pending", "resumed", "acknowledged"]


def test_resolving_a_pending_ticket_closes_the_pause_and_records_the_response(api):
    t = open_case(api, reported_at=minutes_ago(3))
    ok_patch(api, t, status="pending")
    r = ok_patch(api, t, status="resolved", resolution="客户确认已恢复")
    assert r["status"] == "resolved" and r["response_sla"] == "met" and r["acknowledged_at"] is not None
    assert [e["kind"] for e in r["timeline"]] == ["opened", "pending", "resumed", "resolved"]


def test_correcting_the_channel_recomputes_the_due_time(api):
    t = open_case(api, channel="phone", reported_at=cst(2026, 3, 10, 9, 0))
    assert t["response_due_at"] == "2026-03-10T11:00:00+08:00"
    t = ok_patch(api, t, channel="email")
    assert t["response_due_at"] == "2026-03-10T14:00:00+08:00"


# -- automatic tickets -----------------------------------------------------------------------------

def _recent_workday(cal: Any) -> date:
    """A working day at least two days ago whose morning is working time (ingest refuses old results)."""
    day = (utcnow().astimezone(CST) - timedelta(days=2)).date()
    while not (cal.is_workday(day) and cal.is_working_time(datetime.combine(day, time(9), CST))
               and cal.is_working_time(datetime.combine(day, time(13, 30), CST))):
        day -= timedelta(days=1)
    return day


def test_auto_tickets_map_severity_to_the_sla_targets(api):
    """critical → like an urgent phone case, warning → like an e-mail case."""
    cal = runtime(api.app.state.settings).calendar
    day = _recent_workday(cal)
    at9 = datetime.combine(day, time(9), CST)
    evening = datetime.combine(day, time(20), CST)
    api.post_results(batch(result(check="voucher-log", status=Status.CRITICAL, at=at9)))
    api.post_results(batch(result(check="root-disk", status=Status.WARNING, at=at9, system="os", type="disk")))
    api.post_results(batch(result(check="seal-log", status=Status.CRITICAL, at=evening, system="seal")))
    by_check = {t["check"]: t for t in api.get("/api/v1/tickets")["items"]}
    assert by_check["voucher-log"]["severity"] == "critical"
    assert by_check["voucher-log"]["response_due_at"] == datetime.combine(day, time(11), CST).isoformat()
    assert by_check["root-disk"]["severity"] == "warning"
    assert by_check["root-disk"]["response_due_at"] == datetime.combine(day, time(14), CST).isoformat()
    # critical outside working hours: 4 clock hours
    assert by_check["seal-log"]["response_due_at"] == (evening + timedelta(hours=4)).isoformat()
    assert {t["reported_at"] for t in by_check.values()} == {at9.isoformat(), evening.isoformat()}


def test_auto_ticket_resolved_then_back_links_to_the_old_one_and_workflow_applies(api):
    api.post_results(batch(result(status=Status.CRITICAL, at=minutes_ago(10))))
    [t] = api.get("/api/v1/tickets")["items"]
    t = ok_patch(api, t, status="acknowledged")
    t = ok_patch(api, t, status="resolved", resolution="清理磁盘后恢复")
    assert t["status"] == "resolved"
    # the fault is still there: the next bad result opens a new ticket linked to the resolved one
    api.post_results(batch(result(status=Status.CRITICAL, at=minutes_ago(9))))
    new, old = api.get("/api/v1/tickets")["items"]
    assert (new["status"], new["previous_ticket_id"], old["id"]) == ("open", old["id"], t["id"])
    # reopening the old one while the new one is active is refused: one active ticket per fault
    r = patch(api, old, status="open")
    assert r.status_code == 409 and new["number"] in r.json()["detail"]["message"]


def test_sla_state_in_the_database_matches_the_api(api):
    t = open_case(api, reported_at=cst(2026, 3, 10, 9, 0))
    with api.app.state.sessionmaker() as db:
        row = db.get(Ticket, t["id"])
        assert row.response_due_at == cst(2026, 3, 10, 11, 0)
        assert row.response_sla is None
    assert api.get(f"/api/v1/tickets/{t['id']}")["sla_state"] == "breached"


def test_closing_needs_a_chosen_rating_unless_automatic(api):
    t = open_case(api, reported_at=minutes_ago(5))
    t = ok_patch(api, t, status="resolved", resolution="已处理")
    r = patch(api, t, status="closed")
    assert r.status_code == 422 and "请选择客户满意度" in r.json()["detail"]["message"]
    t = ok_patch(api, t, status="closed", satisfaction="未评价")
    assert (t["status"], t["satisfaction"], t["satisfaction_label"]) == ("closed", None, "未评价")
    t = ok_patch(api, t, satisfaction="满意")  # the customer rates it later
    assert (t["satisfaction"], t["satisfaction_label"]) == ("满意", "满意")

    api.post_results(batch(result(status=Status.CRITICAL, at=minutes_ago(2))))
    auto = next(x for x in api.get("/api/v1/tickets")["items"] if x["source"] == "check")
    auto = ok_patch(api, auto, status="resolved", resolution="已恢复")
    auto = ok_patch(api, auto, status="closed")  # no customer involved: 未评价, not counted
    assert (auto["status"], auto["satisfaction"], auto["satisfaction_label"]) == ("closed", None, "未评价")
