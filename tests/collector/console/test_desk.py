"""The hotline desk's honesty: no rating assumed, the rate says what it rests on, Chinese words and local
times in what the console and the API show."""
from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi.testclient import TestClient

from checks.model import Status
from collector.console.labels import metric_label
from collector.db import utcnow
from collector.hosts.models import Host
from collector.jobs.offline import detect_offline
from collector.reports import builder
from collector.tickets.schemas import STATUS_LABELS
from tests.collector.console.conftest import Browser, Console
from tests.collector.console.test_pages import disk, ingest, new_case, ticket
from tests.collector.factories import minutes_ago, result


def offline_ticket(console: Console, silent: timedelta = timedelta(hours=2)) -> int:
    """web01's agent falls silent: the collector opens an automatic ticket (source agent)."""
    with console.app.state.sessionmaker() as db:
        host = db.scalar(sa.select(Host).where(Host.name == "web01"))
        host.online, host.last_seen_at = True, utcnow() - silent
        opened = detect_offline(db=db, now=utcnow(), settings=console.app.state.settings)
        db.commit()
        return opened[0].id


def resolved_case(b: Browser, **fields: str) -> int:
    tid = new_case(b, **fields)
    assert b.post(f"/console/tickets/{tid}/resolve", {"resolution": "重启服务后恢复"}).status_code == 200
    return tid


def close_form(html: str) -> str:
    return html[html.index("/close\""):html.index("关闭</button>")]


# -- 1. honest satisfaction ------------------------------------------------------------------------

def test_close_form_preselects_nothing_and_offers_unrated(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    form = close_form(b.get(f"/console/tickets/{resolved_case(b)}").text)
    assert "checked" not in form
    assert re.findall(r'value="([^"]+)" required', form) == ["满意", "基本满意", "不满意", "未评价"]


def test_manual_case_closes_only_with_a_chosen_rating_or_unrated(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    tid = resolved_case(b)
    r = b.post(f"/console/tickets/{tid}/close", {"comment": "x"})
    assert r.status_code == 422 and "请选择客户满意度" in r.text
    assert ticket(console, tid).status == "resolved"
    assert b.post(f"/console/tickets/{tid}/close", {"satisfaction": "未评价"}).status_code == 200
    t = ticket(console, tid)
    assert (t.status, t.satisfaction) == ("closed", None)
    assert "<dd>未评价" in b.get(f"/console/tickets/{tid}").text
    assert "☑ 未评价" in b.get(f"/console/tickets/{tid}/print").text


def test_automatic_ticket_closes_unrated_without_a_choice(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    tid = offline_ticket(console)
    b.post(f"/console/tickets/{tid}/resolve", {"resolution": "网络恢复"})
    form = close_form(b.get(f"/console/tickets/{tid}").text)
    assert "checked" not in form and "required" not in form and "不计入满意率" in form
    assert b.post(f"/console/tickets/{tid}/close", {}).status_code == 200
    assert (ticket(console, tid).status, ticket(console, tid).satisfaction) == ("closed", None)


def test_dashboard_and_reports_page_say_how_many_ratings_the_rate_rests_on(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    for rating in ("满意", "不满意", "未评价"):
        b.post(f"/console/tickets/{resolved_case(b)}/close", {"satisfaction": rating})
    auto = offline_ticket(console)
    b.post(f"/console/tickets/{auto}/resolve", {"resolution": "网络恢复"})
    b.post(f"/console/tickets/{auto}/close", {})
    dashboard = b.get("/console/").text
    assert re.search(r'<div class="n">50%</div><div class="l" [^>]*>本月满意度 \(基于 2 个评价\)</div>', dashboard)
    assert "本月满意度 50% (基于 2 个评价)" in b.get("/console/reports").text


def test_without_ratings_the_rate_is_not_a_number(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    html = b.get("/console/").text
    assert '<div class="n">-</div>' in html and "本月满意度 (尚无评价)" in html and "100%" not in html


# -- 2. Chinese and local everywhere ---------------------------------------------------------------

def test_timeline_shows_chinese_events_and_display_names(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    tid = new_case(b)
    b.post(f"/console/tickets/{tid}/pend", {"note": "等客户提供日志"})
    html = b.get(f"/console/tickets/{tid}").text
    whens = re.findall(r'<div class="when">[^<]*</div>', html)
    assert [w.split(" · ", 2)[1:] for w in whens] == [["张工", "受理</div>"], ["张工", "挂起</div>"]]
    assert '<span class="badge b-pending">挂起</span>' in html
    api = TestClient(console.app)
    detail = api.get(f"/api/v1/tickets/{tid}", headers={"Authorization": f"Bearer {console.admin_key}"}).json()
    assert [(e["kind"], e["label"], e["actor"], e["actor_name"]) for e in detail["timeline"]] == [
        ("opened", "受理", "zhang", "张工"), ("pending", "挂起", "zhang", "张工")]
    assert detail["status_label"] == "挂起"


def test_one_name_for_the_pending_status() -> None:
    assert builder.STATUS_ZH["pending"] == STATUS_LABELS["pending"] == "挂起"


def test_offline_ticket_text_holds_a_local_time(console: Console) -> None:
    tid = offline_ticket(console)
    t = ticket(console, tid)
    with console.app.state.sessionmaker() as db:
        seen = db.scalar(sa.select(Host.last_seen_at).where(Host.name == "web01"))
    local = seen.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert f"(最后联系 {local})" in t.description
    assert "+00:00" not in t.description and not re.search(r"\dT\d", t.description)


def test_metric_names_have_chinese_labels(console: Console) -> None:
    ingest(console, disk(minutes_ago(1), 85.0), result(status=Status.OK, at=minutes_ago(1)))
    b = console.browser()
    b.login("viewer")
    html = b.get("/console/hosts/web01").text
    assert "使用率 / 85%" in html and "可用空间 / 4.7GiB" in html and "严重错误数 0" in html
    assert "used_percent:/" not in html and "critical_events" not in html
    assert metric_label("queue_depth:voucher.in") == "队列深度 voucher.in"
    assert metric_label("new_thing:x") == "new_thing:x"  # unknown names stay raw


# -- 3. the month of a ticket is the month of its call ----------------------------------------------

def test_ticket_list_shows_and_filters_by_the_call_time(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    cst = ZoneInfo("Asia/Shanghai")
    now = utcnow().astimezone(cst)
    last_month_end = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(minutes=30)
    called = last_month_end.strftime("%Y-%m-%dT%H:%M")  # called 23:30 on the last day, entered this month
    tid = new_case(b, reported_at=called, description="上月最后一天晚上的电话")
    number = ticket(console, tid).number
    html = b.get("/console/tickets").text
    assert "<th>热线时间</th>" in html and "受理时间" not in html
    row = html[html.index(f">{number}</a>"):]
    row = row[:row.index("</tr>")]
    assert last_month_end.strftime("%Y-%m-%d %H:%M") in row
    assert number in b.get("/console/tickets", params={"month": last_month_end.strftime("%Y-%m")}).text
    assert number not in b.get("/console/tickets", params={"month": now.strftime("%Y-%m")}).text


# -- 4. dashboard --------------------------------------------------------------------------------

def test_dashboard_ranks_statuses_as_checks_model_worst() -> None:
    from checks.model import worst
    from collector.console.fleet import HostRow, _worse

    for a, b in [(Status.WARNING, Status.UNKNOWN), (Status.UNKNOWN, Status.OK), (Status.CRITICAL, Status.WARNING)]:
        assert _worse(int(a), int(b)) == _worse(int(b), int(a)) == worst([a, b])
    row = HostRow(host=None, worst={"voucher": int(Status.UNKNOWN), "os": int(Status.WARNING)})  # type: ignore[arg-type]
    assert row.overall == Status.WARNING


def test_text_time_is_local_to_the_minute() -> None:
    from datetime import datetime, timezone

    from collector.timefmt import text_time

    at = datetime(2026, 12, 6, 0, 28, 29, 274499, tzinfo=timezone.utc)
    assert text_time(at, "Asia/Shanghai") == text_time(at, ZoneInfo("Asia/Shanghai")) == "2026-12-06 08:28"
    assert text_time(None) == "-"
