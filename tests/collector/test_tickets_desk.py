"""The hotline desk through the API, on both databases: intake with contact person and phone (the
engineer from the login), hostile text refused, support steps on the timeline, the hand-off (已转交)
outside the response SLA, 解决问题时间 entered and audited, and 7×24 windows with exact due times.
The app's clock is set per test (no wall clock)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from collector.jobs.sla_timers import check_sla
from collector.reports import builder
from collector.runtime import runtime
from collector.tickets.models import Ticket

CST = ZoneInfo("Asia/Shanghai")


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def at(api: Any, when: datetime) -> None:
    api.app.state.clock = lambda: when


def intake(api: Any, **kw: Any) -> Any:
    body = {"channel": "phone", "customer_name": "王会计", "customer_unit": "某市财政局", "room": "301",
            "contact_person": "李主任", "contact_phone": "0571-8765 4321 转 806",
            "description": "电子凭证库无法发送凭证", "system": "voucher", **kw}
    # json.dumps escapes a lone surrogate as \ud800, as a hostile client would send it
    return api.client.post("/api/v1/tickets", content=json.dumps(body),
                           headers={**api.h(api.engineer_key), "Content-Type": "application/json"})


def created(api: Any, **kw: Any) -> dict[str, Any]:
    r = intake(api, **kw)
    assert r.status_code == 201, r.text
    return r.json()


def post(api: Any, t: dict[str, Any], what: str, key: str | None = None, **body: Any) -> Any:
    return api.client.post(f"/api/v1/tickets/{t['id']}/{what}", json=body, headers=api.h(key or api.engineer_key))


def patch(api: Any, t: dict[str, Any], **body: Any) -> Any:
    return api.client.patch(f"/api/v1/tickets/{t['id']}", json=body, headers=api.h(api.engineer_key))


def test_intake_takes_contact_and_the_engineer_from_the_login(api: Any) -> None:
    at(api, cst(2026, 11, 30, 9, 0))
    t = created(api)
    assert (t["engineer_name"], t["engineer_number"]) == ("张工", "E01")
    assert (t["contact_person"], t["contact_phone"]) == ("李主任", "0571-8765 4321 转 806")
    assert t["reported_at"] == "2026-11-30T09:00:00+08:00" and t["response_due_at"] == "2026-11-30T11:00:00+08:00"
    assert t["response_clock"] == "工作时间"
    assert "接听: 张工 (E01)" in t["timeline"][0]["text"] and "李主任 0571-8765 4321 转 806" in t["timeline"][0]["text"]
    for phone in ("+86 138 0013 8000", "13800138000", "010-1234567 ext. 12", ""):
        assert intake(api, contact_phone=phone).status_code == 201, phone
    t = created(api)
    r = patch(api, t, contact_phone="021-5555 6666", contact_person="赵科长")
    assert r.status_code == 200 and r.json()["timeline"][-1]["data"] == {
        "contact_person": ["李主任", "赵科长"], "contact_phone": ["0571-8765 4321 转 806", "021-5555 6666"]}


def test_hostile_intake_is_refused_clearly_and_nothing_is_stored(api: Any) -> None:
    at(api, cst(2026, 11, 30, 9, 0))
    before = len(api.get("/api/v1/tickets")["items"])
    for field, value, words in [("contact_phone", "138-abc", "联系电话只能包含"), ("contact_phone", "1" * 41, "40"),
                                ("contact_phone", "<script>", "联系电话只能包含"), ("contact_phone", "12", "联系电话"),
                                ("contact_person", "李\x00主任", "空字符"), ("description", "坏\ud800字", "代理"),
                                ("contact_person", "长" * 65, "64"), ("room", "3\x0001", "空字符")]:
        r = intake(api, **{field: value})
        assert r.status_code == 422, (field, value)
        errors = r.json()["detail"]["errors"]
        assert errors[0]["loc"] == ["body", field] and words in errors[0]["error"], errors
    t = created(api)
    assert patch(api, t, contact_phone="x").status_code == 422
    assert post(api, t, "handoff", department="网络\x00中心").status_code == 422
    assert len(api.get("/api/v1/tickets")["items"]) == before + 1
    assert api.get(f"/api/v1/tickets/{t['id']}")["contact_phone"] == "0571-8765 4321 转 806"
    # markup and a formula are text kept as typed; a version beyond any integer is a conflict, not a 500
    assert post(api, t, "support", step="phone", version=10**40).status_code == 409  # not this version
    r = post(api, t, "handoff", department="<b>网络中心</b>", note="=1+1")
    assert r.status_code == 200, r.text
    assert (r.json()["handed_to"], r.json()["handoff_note"]) == ("<b>网络中心</b>", "=1+1")


def test_support_steps_phone_remote_onsite_on_the_timeline(api: Any) -> None:
    at(api, cst(2026, 11, 30, 9, 0))
    t = created(api)
    at(api, cst(2026, 11, 30, 9, 10))
    r = post(api, t, "support", step="phone", note="电话指导重启服务")
    assert r.status_code == 200, r.text
    t = r.json()
    # the first support on an open case is its response
    assert (t["status"], t["acknowledged_at"], t["response_sla"]) == (
        "acknowledged", "2026-11-30T09:10:00+08:00", "met")
    at(api, cst(2026, 11, 30, 9, 40))
    t = post(api, t, "support", step="remote", note="远程登录检查证书").json()
    at(api, cst(2026, 11, 30, 14, 0))
    t = post(api, t, "support", step="onsite", version=t["version"]).json()
    assert (t["support_level"], t["support_label"]) == ("onsite", "现场支持")
    steps = [(e["at"], e["actor_name"], e["label"], e["text"]) for e in t["timeline"]
             if e["kind"].startswith("support_")]
    assert steps == [("2026-11-30T09:10:00+08:00", "张工", "电话支持", "电话指导重启服务"),
                     ("2026-11-30T09:40:00+08:00", "张工", "远程支持", "远程登录检查证书"),
                     ("2026-11-30T14:00:00+08:00", "张工", "现场支持", "现场支持")]
    t = post(api, t, "support", step="phone", note="回访").json()  # a later call keeps the highest level
    assert t["support_level"] == "onsite"
    assert post(api, t, "support", step="fax").status_code == 422
    assert post(api, t, "support", step="phone", version=1).status_code == 409
    assert post(api, t, "support", key=api.viewer_key, step="phone").status_code == 403
    t = patch(api, t, status="resolved", resolution="更换证书").json()
    r = post(api, t, "support", step="phone")
    assert r.status_code == 409 and "已解决" in r.json()["detail"]["message"]


def test_resolved_at_entered_checked_and_audited(api: Any) -> None:
    at(api, cst(2026, 11, 30, 9, 0))
    t = created(api, reported_at=cst(2026, 11, 30, 8, 30).isoformat())
    at(api, cst(2026, 11, 30, 16, 0))
    for when, words in [(cst(2026, 11, 30, 16, 1), "不能晚于当前时间"), (cst(2026, 11, 30, 8, 29), "不能早于热线时间")]:
        r = patch(api, t, status="resolved", resolution="重启", resolved_at=when.isoformat())
        assert r.status_code == 422 and words in r.json()["detail"]["message"]
    assert api.get(f"/api/v1/tickets/{t['id']}")["status"] == "open"  # nothing half-done
    t = patch(api, t, status="resolved", resolution="重启", resolved_at=cst(2026, 11, 30, 11, 15).isoformat()).json()
    assert t["resolved_at"] == "2026-11-30T11:15:00+08:00"
    audit = t["timeline"][-1]
    assert (audit["kind"], audit["label"], audit["actor_name"], audit["at"]) == (
        "resolved_at", "修改解决时间", "张工", "2026-11-30T16:00:00+08:00")
    assert audit["text"] == "解决问题时间: 2026-11-30 16:00 → 2026-11-30 11:15"
    at(api, cst(2026, 11, 30, 17, 0))
    t = patch(api, t, resolved_at=cst(2026, 11, 30, 11, 45).isoformat()).json()  # a correction later
    assert t["resolved_at"] == "2026-11-30T11:45:00+08:00"
    assert t["timeline"][-1]["data"] == {"old": "2026-11-30T03:15:00+00:00", "new": "2026-11-30T03:45:00+00:00"}
    open_one = created(api)
    r = patch(api, open_one, resolved_at=cst(2026, 11, 30, 11, 0).isoformat())
    assert r.status_code == 409 and "已解决" in r.json()["detail"]["message"]


def test_hand_off_ends_the_case_outside_our_sla(api: Any) -> None:
    at(api, cst(2026, 11, 2, 9, 0))
    late = created(api, description="办公网络不通")  # due 11:00, nobody answers in time
    ours = created(api, description="凭证库报错")
    rt = runtime(api.app.state.settings)
    with api.app.state.sessionmaker() as db:
        assert check_sla(db=db, rt=rt, now=cst(2026, 11, 2, 12, 0))["breached"] == 2
        db.commit()
    at(api, cst(2026, 11, 2, 12, 5))
    r = post(api, late, "handoff", department="网络中心", note="交王工 (分机 8123)")
    assert r.status_code == 200, r.text
    h = r.json()
    assert (h["status"], h["status_label"], h["handed_to"], h["handoff_note"]) == (
        "handed_off", "已转交", "网络中心", "交王工 (分机 8123)")
    assert (h["response_sla"], h["sla_state"], h["response_clock"]) == (None, None, "不计（已转交）")
    assert h["timeline"][-1]["data"] == {"department": "网络中心", "response_sla_before": "breached"}
    assert post(api, h, "handoff", department="网络中心").status_code == 409  # already handed off
    assert post(api, ours, "handoff", department="  ").status_code == 422
    with api.app.state.sessionmaker() as db:
        assert check_sla(db=db, rt=rt, now=cst(2026, 11, 3, 12, 0)) == {"due_soon": 0, "breached": 0}
        d = builder.build(db=db, month="2026-11", unit="", calendar=rt.calendar, now=cst(2026, 11, 3, 12, 0),
                          policy=rt.policy)
    total = d.table("compliance").rows[-1]
    assert total[2:] == [1, 0, 1, 0.0]  # only our own case counts: 1 ticket, 0 met, 1 breached
    assert [r[0] for r in d.table("breaches").rows] == [ours["number"]]
    assert [(r[0], r[6]) for r in d.table("handoffs").rows] == [(late["number"], "网络中心")]
    listed = api.get("/api/v1/tickets?status=handed_off")["items"]
    assert [x["number"] for x in listed] == [late["number"]]
    r = patch(api, h, status="open", note="转交有误")  # reopened: ours again
    assert r.status_code == 200 and (r.json()["status"], r.json()["handed_to"]) == ("open", "")


def window(api: Any, key: str | None = None, **kw: Any) -> Any:
    body = {"kind": "upgrade", "title": "凭证库升级", "starts_at": cst(2026, 11, 28, 20).isoformat(),
            "ends_at": cst(2026, 11, 29, 2).isoformat(), **kw}
    return api.client.post("/api/v1/support-windows", json=body, headers=api.h(key or api.admin_key))


def test_support_window_due_times_across_its_edges(api: Any) -> None:
    at(api, cst(2026, 11, 28, 19, 0))
    assert window(api, key=api.engineer_key).status_code == 403  # admins open windows
    assert window(api, kind="party").status_code == 422
    r = window(api, ends_at=cst(2026, 11, 28, 19).isoformat())
    assert r.status_code == 422 and "结束时间必须晚于开始时间" in r.json()["detail"]["message"]
    w = window(api, unit="某市财政局").json()
    assert (w["kind_label"], w["unit"], w["ends_at"]) == ("系统升级", "某市财政局", "2026-11-29T02:00:00+08:00")
    at(api, cst(2026, 11, 28, 23, 30))
    inside = created(api, reported_at=cst(2026, 11, 28, 23, 30).isoformat())
    assert inside["response_due_at"] == "2026-11-29T01:30:00+08:00"  # 2 clock hours
    assert inside["response_clock"] == "7×24（系统升级窗口）" and inside["window_id"] == w["id"]
    other_unit = created(api, customer_unit="某县财政局", reported_at=cst(2026, 11, 28, 23, 30).isoformat())
    assert other_unit["response_due_at"] == "2026-11-30T10:00:00+08:00" and other_unit["window_id"] is None
    at(api, cst(2026, 11, 29, 1, 30))
    edge = created(api, reported_at=cst(2026, 11, 29, 1, 30).isoformat())  # 30 min inside, 1.5 wh on Monday
    assert edge["response_due_at"] == "2026-11-30T09:30:00+08:00" and edge["response_clock"] == "7×24（系统升级窗口）"
    before = created(api, reported_at=cst(2026, 11, 28, 19, 59).isoformat())
    assert before["response_due_at"] == "2026-11-30T10:00:00+08:00" and before["response_clock"] == "工作时间"
    at(api, cst(2026, 11, 28, 23, 40))
    answered = created(api, reported_at=cst(2026, 11, 28, 23, 40).isoformat())
    answered = post(api, answered, "support", step="phone").json()
    assert (answered["response_due_at"], answered["response_sla"]) == ("2026-11-29T01:40:00+08:00", "met")
    # the upgrade finishes early: the window closes at 00:30 and unanswered cases follow its new end
    at(api, cst(2026, 11, 29, 0, 30))
    r = api.client.post(f"/api/v1/support-windows/{w['id']}/close", headers=api.h(api.admin_key))
    assert r.status_code == 200 and r.json()["ends_at"] == "2026-11-29T00:30:00+08:00"
    t = api.get(f"/api/v1/tickets/{inside['id']}")
    assert t["response_due_at"] == "2026-11-30T09:00:00+08:00"  # 1 h inside, 1 wh on Monday
    assert t["timeline"][-1]["kind"] == "window" and "01:30" in t["timeline"][-1]["text"]
    kept = api.get(f"/api/v1/tickets/{answered['id']}")  # judged by the due time it was answered against
    assert (kept["response_due_at"], kept["response_clock"]) == ("2026-11-29T01:40:00+08:00", "7×24（系统升级窗口）")
    assert api.client.post(f"/api/v1/support-windows/{w['id']}/close",
                           headers=api.h(api.admin_key)).status_code == 409
    assert [x["id"] for x in api.get("/api/v1/support-windows", key=api.viewer_key)["items"]] == [w["id"]]
    rt = runtime(api.app.state.settings)
    with api.app.state.sessionmaker() as db:  # the monthly report says what each due time counted
        d = builder.build(db=db, month="2026-11", unit="", calendar=rt.calendar, now=cst(2026, 11, 30, 12, 0),
                          policy=rt.policy)
    table = d.table("tickets")
    clock = {r[0]: r[table.headers.index("响应计时")] for r in table.rows}
    assert (clock[inside["number"]], clock[before["number"]]) == ("7×24（系统升级窗口）", "工作时间")


def test_window_opened_after_the_first_calls_takes_them_in(api: Any) -> None:
    at(api, cst(2026, 11, 30, 19, 0))  # Monday evening, a fault: calls come in before the admin declares it
    t = created(api, reported_at=cst(2026, 11, 30, 19, 0).isoformat())
    assert t["response_due_at"] == "2026-12-01T10:00:00+08:00"
    at(api, cst(2026, 11, 30, 19, 20))
    w = window(api, kind="incident", title="凭证库故障", starts_at=cst(2026, 11, 30, 18, 30).isoformat(),
               ends_at=cst(2026, 12, 1, 8, 0).isoformat(), system="voucher").json()
    t = api.get(f"/api/v1/tickets/{t['id']}")
    assert (t["response_due_at"], t["response_clock"], t["window_id"]) == (
        "2026-11-30T21:00:00+08:00", "7×24（故障处理窗口）", w["id"])
    assert t["timeline"][-1]["text"] == "纳入7×24故障处理窗口: 响应时限 2026-12-01 10:00 → 2026-11-30 21:00"
    # in working time the window never makes a due time later than the usual one
    at(api, cst(2026, 12, 1, 7, 0))
    early = created(api, channel="email", reported_at=cst(2026, 12, 1, 7, 0).isoformat())
    assert early["response_due_at"] == "2026-12-01T11:00:00+08:00"  # 1 h clock to 08:00, then 3 wh
    with api.app.state.sessionmaker() as db:
        assert db.get(Ticket, early["id"]).window_kind == "incident"
