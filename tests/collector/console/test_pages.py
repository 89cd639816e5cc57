"""Console pages: dashboard, tickets (list, detail, workflow, new case, print), host, maintenance, reports,
and what a viewer may not do."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from checks.model import Metric, Result, Status
from collector.db import utcnow
from collector.tickets.models import Ticket, TicketEvent
from tests.collector.console.conftest import Browser, Console
from tests.collector.factories import batch, minutes_ago, result


def disk(at: datetime, used: float, mount: str = "/", host: str = "web01") -> Result:
    return Result(host=host, check="root-disk", system="os", status=Status.WARNING if used >= 80 else Status.OK,
                  type="disk", summary=f"{mount} 已用 {used:.0f}%", started_at=at, duration=0.01,
                  metrics=[Metric(f"used_percent:{mount}", used, "%", warn="80", crit="90"),
                           Metric(f"free_bytes:{mount}", 5e9, "B")])


def ingest(console: Console, *results: Result) -> None:
    from fastapi.testclient import TestClient

    r = TestClient(console.app).post("/api/v1/results", json=batch(*results),
                                     headers={"Authorization": f"Bearer {console.token}"})
    assert r.status_code == 200, r.text


def new_case(b: Browser, **fields: str) -> int:
    data = {"channel": "phone", "description": "电子印章系统无法盖章\n客户来电", "system": "seal",
            "customer_name": "赵会计", "customer_unit": "某县财政局", "room": "205", "severity": "warning", **fields}
    r = b.post("/console/tickets/new", data)
    assert r.status_code == 200, r.text
    return int(r.url.path.rsplit("/", 1)[1])


def ticket(console: Console, ticket_id: int) -> Ticket:
    with console.app.state.sessionmaker() as db:
        return db.get(Ticket, ticket_id)


def test_dashboard_shows_hosts_disks_and_open_tickets_breached_first(console: Console) -> None:
    ingest(console, disk(minutes_ago(1), 85.0), result(status=Status.CRITICAL, critical_events=2, at=minutes_ago(1)))
    b = console.browser()
    b.login("zhang")
    late = new_case(b, description="晚了的电话", reported_at=(datetime.now(timezone(timedelta(hours=8)))
                                                            - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"))
    page = b.get("/console/")
    html = page.text
    assert page.status_code == 200 and 'data-refresh="60"' in html
    assert "某市财政局" in html and "web01" in html and "● 在线" in html
    assert 'class="bar-warn" width="85.0"' in html  # disk bar from used_percent:/ with its thresholds
    assert "b-crit" in html  # voucher system's worst status
    number = ticket(console, late).number
    rows = html[html.index("<h2>处理中的服务单"):]
    numbers = re.findall(r">(FW-\d{6}-\d{4})</a>", rows)
    assert len(numbers) == 3 and numbers[0] == number  # five days late: breached, so first
    assert "已超时" in rows


def test_engineer_works_a_ticket_through_its_life(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    tid = new_case(b, urgent="1", engineer=str(_user_id(console, "zhang")))
    t = ticket(console, tid)
    assert (t.channel, t.urgent, t.customer_unit, t.room, t.created_by) == ("phone", True, "某县财政局", "205", "zhang")
    assert t.engineer_name == "张工" and t.engineer_number == "E01"
    page = b.get(f"/console/tickets/{tid}").text
    assert "响应</button>" in page and "解决</button>" in page and t.number in page
    assert b.post(f"/console/tickets/{tid}/acknowledge", {"version": str(t.version)}).status_code == 200
    assert ticket(console, tid).status == "acknowledged"
    r = b.post(f"/console/tickets/{tid}/resolve", {"resolution": "  "})
    assert r.status_code == 422 and "解决描述" in r.text
    b.post(f"/console/tickets/{tid}/pend", {"note": "等客户提供日志"})
    assert ticket(console, tid).status == "pending"
    b.post(f"/console/tickets/{tid}/resume", {})
    b.post(f"/console/tickets/{tid}/assign", {"engineer": str(_user_id(console, "li"))})
    assert ticket(console, tid).engineer_name == "李工"
    b.post(f"/console/tickets/{tid}/resolve", {"resolution": "重新导入印章证书后恢复"})
    b.post(f"/console/tickets/{tid}/close", {"satisfaction": "基本满意", "comment": "希望更快"})
    t = ticket(console, tid)
    assert (t.status, t.resolution, t.satisfaction) == ("closed", "重新导入印章证书后恢复", "基本满意")
    with console.app.state.sessionmaker() as db:
        events = list(db.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == tid).order_by(TicketEvent.id)))
    assert [e.kind for e in events] == ["opened", "assigned", "acknowledged", "pending", "resumed", "assigned",
                                        "resolved", "closed"]
    assert {e.actor for e in events} == {"zhang"}  # the console user's name lands in the timeline
    detail = b.get(f"/console/tickets/{tid}").text
    assert "重新打开</button>" in detail and "关闭</button>" not in detail
    b.post(f"/console/tickets/{tid}/reopen", {"note": "客户再次来电"})
    assert ticket(console, tid).status == "acknowledged"


def _user_id(console: Console, name: str) -> int:
    from collector.users.models import User

    with console.app.state.sessionmaker() as db:
        return db.scalar(sa.select(User.id).where(User.name == name))


def test_stale_version_is_refused(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    tid = new_case(b)
    stale = str(ticket(console, tid).version)
    b.post(f"/console/tickets/{tid}/assign", {"engineer": str(_user_id(console, "li")), "version": stale})
    r = b.post(f"/console/tickets/{tid}/acknowledge", {"version": stale})
    assert r.status_code == 409 and "已被他人修改" in r.text
    assert ticket(console, tid).status == "open"


def test_new_case_form_validates(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    r = b.post("/console/tickets/new", {"channel": "fax", "description": "", "system": "seal"})
    assert r.status_code == 422 and "请选择渠道" in r.text and "请填写问题描述" in r.text
    future = (datetime.now(timezone(timedelta(hours=8))) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    r = b.post("/console/tickets/new", {"channel": "phone", "description": "x", "system": "os", "reported_at": future})
    assert r.status_code == 422 and "热线时间不能晚于当前时间" in r.text


def test_viewer_sees_everything_but_changes_nothing(console: Console) -> None:
    eng = console.browser()
    eng.login("zhang")
    tid = new_case(eng)
    v = console.browser()
    v.login("viewer")
    page = v.get(f"/console/tickets/{tid}").text
    assert "只读账号" in page and "</button>" in page  # only the logout button
    assert page.count("<button") == 1 and "登记服务单" not in v.get("/console/").text
    for action, data in [("acknowledge", {}), ("resolve", {"resolution": "x"}), ("assign", {"engineer": ""})]:
        r = v.post(f"/console/tickets/{tid}/{action}", data)
        assert r.status_code == 403 and "只读账号" in r.text
    assert v.get("/console/tickets/new").status_code == 403
    assert v.post("/console/tickets/new", {"channel": "phone", "description": "x", "system": "os"}).status_code == 403
    assert v.post("/console/maintenance", {"title": "t"}).status_code == 403
    assert ticket(console, tid).status == "open"
    for path in ("/console/", "/console/tickets", "/console/hosts/web01", "/console/maintenance",
                 "/console/reports", f"/console/tickets/{tid}/print"):
        assert v.get(path).status_code == 200, path


def test_ticket_list_filters_and_pages(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    ids = [new_case(b, description=f"问题 {i}", system="mq" if i % 2 else "seal") for i in range(23)]
    b.post(f"/console/tickets/{ids[0]}/resolve", {"resolution": "done"})
    page1 = b.get("/console/tickets").text
    assert "共 23 张" in page1 and "第 1 / 2 页" in page1 and "下一页" in page1
    assert "第 2 / 2 页" in b.get("/console/tickets?page=2").text
    assert "共 11 张" in b.get("/console/tickets?system=mq").text
    assert "共 1 张" in b.get("/console/tickets?status=resolved").text
    assert "共 22 张" in b.get("/console/tickets?status=active").text
    month = utcnow().astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m")
    assert "共 23 张" in b.get(f"/console/tickets?month={month}").text
    assert "共 0 张" in b.get("/console/tickets?month=2020-01").text
    # The engineer who takes a call is the one logged in: every case is zhang's from its intake.
    assert "共 23 张" in b.get(f"/console/tickets?engineer={_user_id(console, 'zhang')}").text
    assert "共 0 张" in b.get("/console/tickets?engineer=none").text
    assert "共 0 张" in b.get("/console/tickets?unit=不存在的单位").text
    assert "共 23 张" in b.get("/console/tickets?unit=某县财政局").text


def test_print_view_is_the_paper_form(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    tid = new_case(b, channel="onsite")
    b.post(f"/console/tickets/{tid}/resolve", {"resolution": "更换网线"})
    b.post(f"/console/tickets/{tid}/close", {"satisfaction": "满意"})
    html = b.get(f"/console/tickets/{tid}/print").text
    for text in ("系统服务单", ticket(console, tid).number, "工程师姓名", "张工", "E01", "赵会计", "某县财政局", "205",
                 "热线时间", "解决问题时间", "问题描述", "解决描述", "更换网线", "☑ 满意", "☐ 基本满意", "☐ 不满意",
                 "☑ 现场", "工程师签字", "客户签字"):
        assert text in html, text


def test_host_page_lists_checks_and_draws_disk_history(console: Console) -> None:
    ingest(console, *[disk(minutes_ago(60 * h), 50.0 + h) for h in range(30, 0, -1)],
           disk(minutes_ago(1), 55.0, mount="/var"), result(at=minutes_ago(1)))
    b = console.browser()
    b.login("viewer")
    html = b.get("/console/hosts/web01").text
    assert "root-disk" in html and "voucher-log" in html and "无新错误" in html
    assert html.count("<polyline") == 2 and "当前 51.0%" in html and "峰值 80.0%" in html
    one_day = b.get("/console/hosts/web01?days=1").text
    assert "峰值 73.0%" in one_day  # points older than a day fall out of the window
    assert b.get("/console/hosts/nohost").status_code == 404


def test_host_page_shows_results_the_agent_quarantined(console: Console) -> None:
    from fastapi.testclient import TestClient

    b = console.browser()
    b.login("viewer")
    ingest(console, result(at=minutes_ago(1)))
    assert "采集端拒收" not in b.get("/console/hosts/web01").text
    r = TestClient(console.app).post("/api/v1/results", json=batch(result(at=minutes_ago(1)), rejected_total=4),
                                     headers={"Authorization": f"Bearer {console.token}"})
    assert r.status_code == 200, r.text
    assert "采集端拒收 4 条结果" in b.get("/console/hosts/web01").text


def row_of(html: str, title: str) -> list[str]:
    """The cells of the maintenance table's row for a window, up to its state (开始, 结束, 状态 last)."""
    row = re.search(r"<tr>\s*<td>" + re.escape(title) + r"</td>(.*?)</tr>", html, re.S)
    assert row, title
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]
    return cells[:6]


def test_maintenance_windows_create_and_cancel(console: Console) -> None:
    # Dates relative to the real now (the page compares them with the clock): tomorrow 20:00 local is "未开始",
    # a window around now is "进行中", yesterday's is "已结束".
    local = timezone(timedelta(hours=8))
    tomorrow = (datetime.now(local) + timedelta(days=1)).replace(hour=20, minute=0, second=0, microsecond=0)
    b = console.browser()
    b.login("zhang")

    def window(title: str, start: datetime, end: datetime):
        return b.post("/console/maintenance", {"title": title, "unit": "某市财政局", "system": "voucher",
                                               "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
                                               "ends_at": end.strftime("%Y-%m-%dT%H:%M")})

    r = window("凭证库升级", tomorrow, tomorrow - timedelta(hours=1))
    assert r.status_code == 422 and "结束时间必须晚于开始时间" in r.text
    r = window("凭证库升级", tomorrow, tomorrow + timedelta(hours=3))
    assert r.status_code == 200
    assert row_of(r.text, "凭证库升级")[-3:] == [tomorrow.strftime("%Y-%m-%d 20:00"),
                                                tomorrow.strftime("%Y-%m-%d 23:00"), "未开始"]
    now = datetime.now(local).replace(second=0, microsecond=0)
    window("印章服务重启", now - timedelta(hours=1), now + timedelta(hours=2))
    r = window("昨晚的升级", now - timedelta(days=1, hours=3), now - timedelta(days=1))
    assert row_of(r.text, "印章服务重启")[-1] == "进行中" and row_of(r.text, "昨晚的升级")[-1] == "已结束"
    from collector.maintenance.models import MaintenanceWindow

    with console.app.state.sessionmaker() as db:
        w = db.scalar(sa.select(MaintenanceWindow).where(MaintenanceWindow.title == "凭证库升级"))
        assert w.starts_at == tomorrow.astimezone(timezone.utc) and w.created_by == "zhang"
    r = b.post(f"/console/maintenance/{w.id}/cancel", {})
    assert "已取消" in r.text


def test_reports_page_generates_and_downloads(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    tid = new_case(b)
    assert "系统服务月报" in b.get("/console/reports").text
    month = utcnow().astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m")
    r = b.post("/console/reports", {"month": month, "unit": "", "format": "html"})
    assert r.status_code == 200 and month in r.text
    link = r.text.split('href="/console/reports/')[1].split('"')[0]
    got = b.get("/console/reports/" + link)
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    assert ticket(console, tid).number in got.content.decode("utf-8")


def test_user_text_is_escaped(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    tid = new_case(b, description='<script>alert("x")</script>', customer_name="<b>赵</b>", host="a/b?c")
    for path in (f"/console/tickets/{tid}", f"/console/tickets/{tid}/print", "/console/tickets", "/console/"):
        html = b.get(path).text
        assert "<script>alert" not in html and "<b>赵</b>" not in html, path
    assert 'href="/console/hosts/a%2Fb%3Fc"' in b.get("/console/tickets").text


def test_long_disk_history_comes_from_the_daily_rollups(console: Console) -> None:
    from collector.hosts import service as hosts
    from collector.rollups.models import ResultRollup

    ingest(console, disk(minutes_ago(30), 61.0))
    today = utcnow().astimezone(timezone(timedelta(hours=8))).date()
    with console.app.state.sessionmaker() as db:
        host_id = hosts.get_by_name(db=db, name="web01").id
        for back in range(3, 20):
            db.add(ResultRollup(day=today - timedelta(days=back), host_id=host_id, check="root-disk", system="os",
                                type="disk", disk={"/": {"used_percent_max": 70.0 + back, "used_percent_min": 30.0}},
                                updated_at=utcnow()))
        db.commit()
    b = console.browser()
    b.login("viewer")
    month = b.get("/console/hosts/web01?days=30").text
    assert "峰值 89.0%" in month and "当前 61.0%" in month  # 19 days back: the daily peak; today: raw
    week = b.get("/console/hosts/web01?days=7").text
    assert "峰值 61.0%" in week  # a week reads raw results only
