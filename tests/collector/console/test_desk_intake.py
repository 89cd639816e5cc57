"""The hotline desk in the console: intake with contact person and phone (the engineer from the login),
hostile input refused with the form kept, support buttons, hand-off, 解决问题时间 entered and corrected,
the print form, and the 7×24 window page (admins open and close, others read). The app's clock is set."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from collector.tickets.models import Ticket
from collector.users import service as users
from tests.collector.console.conftest import Browser, Console

CST = ZoneInfo("Asia/Shanghai")


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def at(console: Console, when: datetime) -> None:
    console.app.state.clock = lambda: when


def intake(b: Browser, **fields: str):
    data = {"channel": "phone", "description": "电子印章系统无法盖章", "system": "seal", "customer_name": "赵会计",
            "customer_unit": "某县财政局", "room": "205", "contact_person": "钱主任",
            "contact_phone": "0571-8765 4321 转 806", "severity": "warning", **fields}
    return b.post("/console/tickets/new", data)


def new_id(b: Browser, **fields: str) -> int:
    r = intake(b, **fields)
    assert r.status_code == 200 and "/console/tickets/" in str(r.url), r.text[:500]
    return int(r.url.path.rsplit("/", 1)[1])


def row(console: Console, tid: int) -> Ticket:
    with console.app.state.sessionmaker() as db:
        return db.get(Ticket, tid)


def version(console: Console, tid: int) -> str:
    return str(row(console, tid).version)


def test_intake_form_names_the_engineer_and_keeps_the_contact(console: Console) -> None:
    at(console, cst(2026, 11, 30, 9, 0))
    b = console.browser()
    b.login("zhang")
    form = b.get("/console/tickets/new").text
    assert "接听工程师" in form and "张工" in form and "编号 E01" in form
    assert 'name="contact_person"' in form and 'name="contact_phone"' in form
    tid = new_id(b)
    t = row(console, tid)
    assert (t.engineer_name, t.engineer_number, t.contact_person, t.contact_phone) == (
        "张工", "E01", "钱主任", "0571-8765 4321 转 806")
    page = b.get(f"/console/tickets/{tid}").text
    assert "钱主任" in page and 'href="tel:0571-87654321转806"' in page and "计时: 工作时间" in page
    paper = b.get(f"/console/tickets/{tid}/print").text
    assert "<th>联系人</th><td>钱主任</td>" in paper and "<th>联系电话</th><td>0571-8765 4321 转 806</td>" in paper
    assert "张工" in paper and "E01" in paper


def test_hostile_intake_is_refused_and_the_form_kept(console: Console) -> None:
    at(console, cst(2026, 11, 30, 9, 0))
    b = console.browser()
    b.login("zhang")
    for fields, words in [({"contact_phone": "138-abc"}, "联系电话只能包含"),
                          ({"contact_phone": "1" * 41}, "联系电话过长"),
                          ({"contact_person": "钱\x00主任"}, "联系人含有空字符"),
                          ({"contact_person": "长" * 65}, "联系人过长"),
                          ({"description": "<script>x</script>", "contact_phone": "<b>1</b>"}, "联系电话只能包含")]:
        r = intake(b, **fields)
        assert r.status_code == 422 and words in r.text, fields
        assert "<script>x</script>" not in r.text  # escaped back into the form
        assert 'value="某县财政局"' in r.text  # what was typed is kept
    with console.app.state.sessionmaker() as db:
        assert db.query(Ticket).count() == 0


def test_support_hand_off_and_resolved_time_from_the_ticket_page(console: Console) -> None:
    at(console, cst(2026, 11, 30, 9, 0))
    b = console.browser()
    b.login("zhang")
    tid = new_id(b)
    page = b.get(f"/console/tickets/{tid}").text
    for label in ("电话支持", "远程支持", "现场支持", "转交"):
        assert f">{label}</button>" in page
    for minute, step in ((5, "phone"), (20, "remote"), (50, "onsite")):
        at(console, cst(2026, 11, 30, 9, minute))
        r = b.post(f"/console/tickets/{tid}/support", {"step": step, "note": f"{step} 记录",
                                                      "version": version(console, tid)})
        assert r.status_code == 200
    page = r.text
    timeline = re.sub(r"\s+", " ", page[page.index('class="timeline"'):])
    assert "2026-11-30 09:05:00 · 张工 · 电话支持" in timeline and "09:50:00 · 张工 · 现场支持" in timeline
    assert "09:05:00 · 张工 · 响应" in timeline  # the first support is the response
    assert row(console, tid).support_level == "onsite"
    assert b.post(f"/console/tickets/{tid}/support", {"step": "fax"}).status_code == 422
    # resolve with an entered time; a time in the future is refused and nothing changes
    at(console, cst(2026, 11, 30, 15, 0))
    r = b.post(f"/console/tickets/{tid}/resolve", {"resolution": "更换印章证书", "resolved_at": "2026-11-30T15:30"})
    assert r.status_code == 422 and "不能晚于当前时间" in r.text and row(console, tid).status == "acknowledged"
    r = b.post(f"/console/tickets/{tid}/resolve", {"resolution": "更换印章证书", "resolved_at": "2026-11-30T08:00"})
    assert r.status_code == 422 and "不能早于热线时间" in r.text
    r = b.post(f"/console/tickets/{tid}/resolve", {"resolution": "更换印章证书", "resolved_at": "2026-11-30T11:20"})
    assert r.status_code == 200 and "2026-11-30 11:20" in r.text
    assert "解决问题时间: 2026-11-30 15:00 → 2026-11-30 11:20" in r.text
    r = b.post(f"/console/tickets/{tid}/resolved_at", {"resolved_at": "2026-11-30T11:40"})
    assert r.status_code == 200 and "解决问题时间: 2026-11-30 11:20 → 2026-11-30 11:40" in r.text
    assert b.post(f"/console/tickets/{tid}/resolved_at", {"resolved_at": "明天"}).status_code == 422
    paper = b.get(f"/console/tickets/{tid}/print").text
    assert paper.count("☑ 电话支持") == 1 and paper.count("☑ 现场支持") == 1 and "2026-11-30 11:40" in paper

    other = new_id(b, description="办公电脑无法上网")
    r = b.post(f"/console/tickets/{other}/handoff", {"department": "", "note": "x"})
    assert r.status_code == 422 and "请填写转交的部门" in r.text
    r = b.post(f"/console/tickets/{other}/handoff", {"department": "网络中心", "note": "交王工, 分机 8123"})
    assert r.status_code == 200 and "已转交 网络中心" in r.text and "不计入本方响应时限" in r.text
    assert "计时: 不计（已转交）" in r.text and ">指派</button>" not in r.text
    t = row(console, other)
    assert (t.status, t.handed_to, t.response_sla) == ("handed_off", "网络中心", None)
    listing = b.get("/console/tickets?status=handed_off").text
    assert "共 1 张" in listing and "转交 网络中心" in listing
    assert "☑ 已转交 网络中心" in b.get(f"/console/tickets/{other}/print").text


def test_support_window_page_admin_opens_and_closes(console: Console) -> None:
    with console.app.state.sessionmaker() as db:
        users.add(db=db, name="boss", role="admin", display_name="刘主管", password="boss-pass-42")
        db.commit()
    at(console, cst(2026, 11, 28, 19, 0))
    eng = console.browser()
    eng.login("zhang")
    page = eng.get("/console/support-windows").text
    assert "只有管理员可以开启" in page and 'action="/console/support-windows"' not in page
    assert eng.post("/console/support-windows", {"kind": "upgrade", "title": "x"}).status_code == 403
    admin = console.browser()
    admin.login("boss", "boss-pass-42")
    r = admin.post("/console/support-windows", {"kind": "upgrade", "title": "凭证库升级", "unit": "某县财政局",
                                                 "starts_at": "2026-11-28T20:00", "ends_at": "2026-11-28T19:00"})
    assert r.status_code == 422 and "结束时间必须晚于开始时间" in r.text and 'value="凭证库升级"' in r.text
    r = admin.post("/console/support-windows", {"kind": "upgrade", "title": "凭\x00库", "starts_at": "2026-11-28T20:00",
                                                 "ends_at": "2026-11-29T02:00"})
    assert r.status_code == 422 and "空字符" in r.text
    r = admin.post("/console/support-windows", {"kind": "upgrade", "title": "凭证库升级", "unit": "某县财政局",
                                                 "starts_at": "2026-11-28T20:00", "ends_at": "2026-11-29T02:00"})
    assert r.status_code == 200 and "凭证库升级" in r.text and "未开始" in r.text
    at(console, cst(2026, 11, 28, 23, 30))
    tid = new_id(eng)
    page = eng.get(f"/console/tickets/{tid}").text
    assert "2026-11-29 01:30" in page and "计时: 7×24（系统升级窗口）" in page
    wid = re.search(r'/console/support-windows/(\d+)/close', admin.get("/console/support-windows").text).group(1)
    at(console, cst(2026, 11, 29, 0, 30))
    r = admin.post(f"/console/support-windows/{wid}/close", {})
    assert r.status_code == 200 and "已关闭" in r.text
    assert row(console, tid).response_due_at == cst(2026, 11, 30, 9, 0)
    assert "提前结束" in eng.get(f"/console/tickets/{tid}").text
