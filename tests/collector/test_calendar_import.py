"""The working calendar in the database (SQLite and PostgreSQL): coverage shown around a year boundary
with the app's clock replaced, one notification per missing year, imports from the console and the
CLI, and running clocks recomputed across two collector processes (two apps, one database)."""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from collector import cli
from collector.app import create_app
from collector.calendar import service as calendar
from collector.calendar.jobs import announce_uncovered, heal_fallback
from collector.calendar.models import CalendarImport
from collector.config import Settings
from collector.jobs.sla_timers import check_sla
from collector.notifications.models import OutboxMessage
from collector.runtime import runtime
from collector.tickets import workflow
from collector.tickets.deadlines import set_due
from collector.tickets.models import Ticket
from collector.users import service as users
from tests.collector.console.conftest import Browser
from tests.collector.test_tickets_workflow import taken_at
from tests.conftest import bin_path, run_cli
from tests.helpers.net import closed_port

CST = ZoneInfo("Asia/Shanghai")

# An arrangement invented for these tests (the official 2027 notice is not in this repository): the
# published format, weekdays that add up.
NOTICE_2027 = """国务院办公厅关于2027年部分节假日安排的通知
一、元旦：1月1日（周五）至3日（周日）放假，共3天。
二、春节：2月5日（周五）至13日（周六）放假调休，共9天。2月20日（周六）上班。
三、清明节：4月3日（周六）至5日（周一）放假，共3天。
四、劳动节：5月1日（周六）至5日（周三）放假调休，共5天。4月25日（周日）、5月8日（周六）上班。
五、端午节：6月9日（周三）放假，共1天。
六、中秋节：9月15日（周三）放假，共1天。
七、国庆节：10月1日（周五）至7日（周四）放假调休，共7天。9月26日（周日）、10月9日（周六）上班。
"""


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(db_url=db_url, jobs_enabled=False, notify={
        "channels": [{"name": "hook", "type": "webhook", "url": f"http://127.0.0.1:{closed_port()}/x"}],
        "routes": [{"channels": ["hook"]}]})


@pytest.fixture
def second(settings: Settings) -> Iterator[Any]:
    """Another collector process on the same database: its own Settings, so its own calendar in memory."""
    app = create_app(Settings(db_url=settings.db_url, jobs_enabled=False, notify=settings.notify))
    with TestClient(app):
        yield app


def scrape(client: TestClient) -> dict[str, float]:
    out = {}
    for fam in text_string_to_metric_families(client.get("/metrics").text):
        for s in fam.samples:
            if s.name == "xunjian_calendar_year_covered":
                out[s.labels["year"]] = s.value
    return out


def email_case(db: Any, rt: Any, *, now: datetime, reported: datetime) -> Ticket:
    """An e-mail case (4 working hours) entered at `now`."""
    _, t = taken_at(db, rt, now=now, reported=reported)
    t.channel = "email"
    set_due(t, rt, now)
    return t


def admin_browser(app: Any) -> Browser:
    with app.state.sessionmaker() as db:
        if users.get_by_name(db=db, name="root") is None:
            users.add(db=db, name="root", role="admin", password="root-pass-1")
            users.add(db=db, name="wang", role="viewer", password="wang-pass-1")
            db.commit()
    b = Browser(app)
    assert b.login("root", "root-pass-1").status_code == 200
    return b


def test_coverage_around_the_year_boundary(api):
    client, app = api.client, api.app
    admin = admin_browser(app)
    viewer = Browser(app)
    viewer.login("wang", "wang-pass-1")

    app.state.clock = lambda: cst(2026, 11, 1, 12, 0)  # 61 days before 2027: not yet
    assert scrape(client) == {"2026": 1.0, "2027": 0.0}
    assert "calendar" not in client.get("/healthz").json()
    assert "calendar-banner" not in admin.get("/console/").text

    app.state.clock = lambda: cst(2026, 11, 2, 12, 0)  # 60 days before: shown everywhere, to admins and engineers
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["calendar"]["uncovered_years"] == [2027]
    for path in ("/console/", "/console/tickets", "/console/maintenance", "/console/calendar"):
        page = admin.get(path).text
        assert "calendar-banner" in page and "缺少 2027 年的法定节假日安排" in page and "还有 60 天" in page
    assert "calendar-banner" not in viewer.get("/console/").text

    # the boundary is Shanghai's midnight, not UTC's: 2026-12-31 15:59 UTC is still 2026 there
    app.state.clock = lambda: datetime(2026, 12, 31, 15, 59, tzinfo=timezone.utc)
    assert scrape(client) == {"2026": 1.0, "2027": 0.0} and "还有 1 天" in admin.get("/console/").text
    app.state.clock = lambda: datetime(2026, 12, 31, 16, 0, tzinfo=timezone.utc)
    assert scrape(client) == {"2027": 0.0, "2028": 0.0}

    app.state.clock = lambda: cst(2027, 1, 5, 9, 0)  # the year has begun without data
    assert scrape(client) == {"2027": 0.0, "2028": 0.0}
    assert client.get("/healthz").json()["calendar"]["uncovered_years"] == [2027]
    assert "2027 年已经开始" in admin.get("/console/").text

    page = admin.post("/console/calendar/preview", {"text": NOTICE_2027})
    assert page.status_code == 200 and "请核对后确认导入" in page.text and "2月5日(周五) 至 2月13日(周六)" in page.text
    with app.state.sessionmaker() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(CalendarImport)) == 0  # preview stores nothing
    done = admin.post("/console/calendar/import", {"text": NOTICE_2027, "year": "2027"})
    assert done.status_code == 200 and "已导入 2027 年工作日历" in done.text
    assert "calendar-banner" not in admin.get("/console/").text
    assert scrape(client) == {"2027": 1.0, "2028": 0.0}
    assert "calendar" not in client.get("/healthz").json()
    with app.state.sessionmaker() as db:
        [row] = db.scalars(sa.select(CalendarImport))
        assert (row.year, row.format, row.imported_by) == (2027, "notice", "root")
        assert row.source_text == NOTICE_2027 and row.imported_at == cst(2027, 1, 5, 9, 0)


def test_the_console_refuses_a_bad_notice_and_non_admins(api):
    admin = admin_browser(api.app)
    bad = NOTICE_2027.replace("2月20日（周六）上班", "2月22日（周一）上班")
    page = admin.post("/console/calendar/preview", {"text": bad})
    assert page.status_code == 422 and "第 3 行" in page.text and "2027-02-22（周一）不是周末" in page.text
    page = admin.post("/console/calendar/import", {"text": bad})
    assert page.status_code == 422
    with api.app.state.sessionmaker() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(CalendarImport)) == 0
    viewer = Browser(api.app)
    viewer.login("wang", "wang-pass-1")
    assert viewer.get("/console/calendar").status_code == 403
    assert viewer.post("/console/calendar/import", {"text": NOTICE_2027}).status_code == 403


def test_one_notification_per_missing_year_across_processes(api, second):
    for app in (api.app, second, api.app):
        with app.state.sessionmaker() as db:
            announce_uncovered(db=db, rt=runtime(app.state.settings, db), now=cst(2026, 12, 1, 9, 0))
            db.commit()
    with api.app.state.sessionmaker() as db:
        rows = list(db.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == "calendar_uncovered")))
    assert len(rows) == 1 and "2027" in rows[0].payload["title"] and rows[0].channel == "hook"
    with api.app.state.sessionmaker() as db:  # before the window: nothing
        assert announce_uncovered(db=db, rt=runtime(api.app.state.settings, db),
                                  now=cst(2026, 10, 1, 9, 0)) == {"queued": 0}


def test_an_import_recomputes_running_clocks_in_every_process(api, second):
    """The issue's case: an e-mail case of 2026-12-31 16:00 is due 2027-01-01 10:00 (New Year's Day) on
    the fallback; process B breaches it at 11:00; the import in process A moves it to Monday 10:00 and
    takes the breach back, and process B computes with the imported year from then on."""
    rt_b = runtime(second.state.settings)
    with second.state.sessionmaker() as db:
        rt_b = runtime(second.state.settings, db)
        running = email_case(db, rt_b, now=cst(2026, 12, 31, 16, 5), reported=cst(2026, 12, 31, 16, 0))
        zhang, answered = taken_at(db, rt_b, now=cst(2026, 12, 31, 17, 0), reported=cst(2026, 12, 31, 17, 0))
        workflow.acknowledge(db=db, ticket=answered, actor=zhang, now=cst(2027, 1, 1, 9, 30), rt=rt_b)
        _, closed = taken_at(db, rt_b, now=cst(2026, 12, 31, 17, 30), reported=cst(2026, 12, 31, 17, 30))
        workflow.resolve(db=db, ticket=closed, actor=zhang, now=cst(2027, 1, 1, 11, 0), resolution="已处理",
                         rt=rt_b)
        workflow.close(db=db, ticket=closed, actor=zhang, now=cst(2027, 1, 1, 11, 5), satisfaction="满意")
        db.commit()
        ids = {"running": running.id, "answered": answered.id, "closed": closed.id}
        assert running.response_due_at == cst(2027, 1, 1, 10, 0) and running.calendar_fallback
        closed_due = closed.response_due_at
    with second.state.sessionmaker() as db:
        assert check_sla(db=db, rt=runtime(second.state.settings, db), now=cst(2027, 1, 1, 11, 0))["breached"] == 1
        db.commit()
    before = api.get(f"/api/v1/tickets/{ids['running']}")
    assert before["response_sla"] == "breached" and before["calendar_fallback"] is True

    rt_a = runtime(api.app.state.settings)
    with api.app.state.sessionmaker() as db:
        rt_a = runtime(api.app.state.settings, db)
        result = calendar.import_schedule(db=db, rt=rt_a, parsed=calendar.parse_text(NOTICE_2027), actor="root",
                                          now=cst(2027, 1, 1, 11, 30))
        db.commit()
    assert [n for n, _, _ in result.recomputed] == [before["number"]] and result.unbreached == [before["number"]]

    # Process B answers with the recomputed ticket and the imported calendar, without a restart.
    client_b = TestClient(second)
    detail = client_b.get(f"/api/v1/tickets/{ids['running']}", headers=api.h(api.admin_key)).json()
    assert detail["response_due_at"] == "2027-01-04T10:00:00+08:00"
    assert detail["response_sla"] is None and detail["calendar_fallback"] is False
    event = detail["timeline"][-1]
    assert event["kind"] == "calendar_recomputed" and "2027-01-01 10:00 → 2027-01-04 10:00" in event["text"]
    assert "不再视为超时" in event["text"] and event["actor"] == "root"
    assert rt_b.calendar.generation == result.row.id and not rt_b.calendar.is_workday(datetime(2027, 1, 1).date())
    with second.state.sessionmaker() as db:
        rt_b = runtime(second.state.settings, db)
        fresh = email_case(db, rt_b, now=cst(2026, 12, 31, 16, 5), reported=cst(2026, 12, 31, 16, 0))
        assert fresh.response_due_at == cst(2027, 1, 4, 10, 0) and not fresh.calendar_fallback
        assert check_sla(db=db, rt=rt_b, now=cst(2027, 1, 1, 12, 0))["breached"] == 0
        db.rollback()
        answered, closed = db.get(Ticket, ids["answered"]), db.get(Ticket, ids["closed"])
        assert answered.response_sla == "breached"  # responded after the due time it had: history
        assert closed.status == "closed" and closed.response_due_at == closed_due
        assert closed.response_sla == "breached" and closed.calendar_fallback
    breaches = [s.value for fam in text_string_to_metric_families(client_b.get("/metrics").text)
                for s in fam.samples if s.name == "xunjian_sla_breaches_total"]
    assert breaches == [2.0]  # the answered and the closed ticket: no longer running, their history stays


def test_cli_import_and_show(api, tmp_path, capsys, monkeypatch):
    db_url = api.app.state.settings.db_url
    example = "collector/sla/schedules/2027.example.yaml"
    assert cli.main(["calendar", "import", example, "--db", db_url]) == 2
    assert "example file" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(NOTICE_2027.replace("共9天", "共8天")))
    assert cli.main(["calendar", "import", "-", "--db", db_url]) == 2
    err = capsys.readouterr().err
    assert "第 3 行「二、春节：2月5日" in err and "共8天" in err

    monkeypatch.setattr("sys.stdin", io.StringIO(NOTICE_2027))
    assert cli.main(["calendar", "import", "-", "--db", db_url, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "放假 春节: 2月5日(周五) 至 2月13日(周六), 共 9 天" in out and "调休上班: 2月20日(周六)" in out
    with api.app.state.sessionmaker() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(CalendarImport)) == 0

    yaml_file = tmp_path / "holidays-2027.yaml"
    yaml_file.write_text(open(example, encoding="utf-8").read().replace("example: true\n", ""), encoding="utf-8")
    assert cli.main(["calendar", "import", str(yaml_file), "--db", db_url, "--actor", "ops-li"]) == 0
    capsys.readouterr()
    assert cli.main(["calendar", "show", "--year", "2027", "--json", "--db", db_url]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["year"] == 2027 and shown["source"].startswith("import:")
    assert "2027-01-01" in shown["holidays"] and "2027-02-08" in shown["holidays"]
    assert shown["workdays"] == ["2027-02-20", "2027-04-25", "2027-09-26", "2027-10-09"]
    with api.app.state.sessionmaker() as db:
        [row] = db.scalars(sa.select(CalendarImport))
        assert (row.format, row.imported_by) == ("yaml", "ops-li")

    assert cli.main(["calendar", "show", "--year", "2025", "--json", "--db", db_url]) == 0
    y2025 = json.loads(capsys.readouterr().out)
    assert y2025["source"] == "package" and y2025["workdays"] == ["2025-01-26", "2025-02-08", "2025-04-27",
                                                                  "2025-09-28", "2025-10-11"]
    assert "2025-01-28" in y2025["holidays"] and "2025-02-01" not in y2025["holidays"]  # a Saturday: not listed


def test_an_import_by_another_os_process_reaches_the_running_app(api, tmp_path):
    """`xunjian-collector calendar import` run as its own process; the app (already running, its
    calendar cached) sees the year and the recomputed ticket without a restart."""
    rt = runtime(api.app.state.settings)
    with api.app.state.sessionmaker() as db:
        rt = runtime(api.app.state.settings, db)
        t = email_case(db, rt, now=cst(2026, 12, 31, 16, 5), reported=cst(2026, 12, 31, 16, 0))
        db.commit()
        tid = t.id
    assert rt.calendar.is_workday(datetime(2027, 1, 1).date())  # the fallback, cached in this process
    notice = tmp_path / "notice-2027.txt"
    notice.write_text(NOTICE_2027, encoding="utf-8")
    out = run_cli(bin_path("xunjian-collector"), "calendar", "import", str(notice), "--db",
                  api.app.state.settings.db_url)
    assert "放假 元旦: 1月1日(周五) 至 1月3日(周日), 共 3 天" in out
    assert "2027-01-01 10:00 → 2027-01-04 10:00" in out
    detail = api.get(f"/api/v1/tickets/{tid}")
    assert detail["response_due_at"] == "2027-01-04T10:00:00+08:00" and detail["calendar_fallback"] is False
    [event] = [e for e in detail["timeline"] if e["kind"] == "calendar_recomputed"]
    assert event["actor"].startswith("cli:")
    assert not rt.calendar.is_workday(datetime(2027, 1, 1).date())


def test_a_due_time_computed_on_a_stale_calendar_is_healed_by_the_job(api):
    """A process that computed a due time on the fallback in the moment of an import (its calendar not
    yet synced): the calendar-fallback job recomputes it; tickets whose years are still missing stay."""
    with api.app.state.sessionmaker() as db:
        rt = runtime(api.app.state.settings, db)
        calendar.import_schedule(db=db, rt=rt, parsed=calendar.parse_text(NOTICE_2027), actor="root",
                                 now=cst(2026, 12, 20, 9, 0))
        db.commit()
    stale = Settings(db_url=api.app.state.settings.db_url)  # its own calendar, never synced: 2027 on the fallback
    with api.app.state.sessionmaker() as db:
        late = email_case(db, runtime(stale), now=cst(2026, 12, 31, 16, 5), reported=cst(2026, 12, 31, 16, 0))
        far = email_case(db, runtime(stale), now=cst(2028, 12, 29, 16, 5), reported=cst(2028, 12, 29, 16, 0))
        assert late.calendar_fallback and late.response_due_at == cst(2027, 1, 1, 10, 0)
        assert far.calendar_fallback
        db.commit()
        ids = (late.id, far.id)
    with api.app.state.sessionmaker() as db:
        assert heal_fallback(db=db, rt=runtime(api.app.state.settings, db), now=cst(2027, 1, 1, 9, 0)) == \
            {"recomputed": 1}
        db.commit()
    late_api, far_api = (api.get(f"/api/v1/tickets/{i}") for i in ids)
    assert late_api["response_due_at"] == "2027-01-04T10:00:00+08:00" and late_api["calendar_fallback"] is False
    [event] = [e for e in late_api["timeline"] if e["kind"] == "calendar_recomputed"]
    assert event["actor"] == "system" and "工作日历已更新" in event["text"]
    assert far_api["calendar_fallback"] is True  # 2028/2029: still no data, still marked
    with api.app.state.sessionmaker() as db:  # nothing left to do: the job is idle
        assert heal_fallback(db=db, rt=runtime(api.app.state.settings, db), now=cst(2027, 1, 1, 9, 5)) == \
            {"recomputed": 0}
