"""The hotline desk's honesty: no rating assumed, the rate says what it rests on, Chinese words and local
times in what the console and the API show."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from collector.db import utcnow
from collector.hosts.models import Host
from collector.jobs.offline import detect_offline
from tests.collector.console.conftest import Browser, Console
from tests.collector.console.test_pages import new_case, ticket


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
    assert "本月满意度 50% (基于 2 个评价)" in b.get("/console/").text
    assert "本月满意度 50% (基于 2 个评价)" in b.get("/console/reports").text


def test_without_ratings_the_rate_is_not_a_number(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    html = b.get("/console/").text
    assert "本月满意度 - (尚无评价)" in html and "100%" not in html
