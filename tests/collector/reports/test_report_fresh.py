"""A report of a month that holds a provisional day counts that day's results at most 5 minutes old,
though the rollup job rebuilds the running day only hourly."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from collector.reports import builder, fresh, service
from collector.rollups.service import run_rollups
from collector.runtime import runtime
from tests.collector.factories import batch, result
from tests.collector.reports.month_data import cst


def post(api: Any, start: Any, n: int) -> None:
    api.app.state.clock = lambda: start + timedelta(minutes=n)  # received as they ran, whatever today is
    r = api.post_results(batch(*[result(at=start + timedelta(minutes=m)) for m in range(n)]))
    assert r.status_code == 200, r.text


def runs(api: Any, month: str, now: Any) -> int:
    rt = runtime(api.app.state.settings)
    with api.app.state.read_sessionmaker() as db:
        return builder.build(db=db, month=month, unit="", calendar=rt.calendar, now=now).figures["runs"]


def test_current_month_figures_are_at_most_five_minutes_old(api: Any) -> None:
    rt = runtime(api.app.state.settings)
    factory = api.app.state.sessionmaker
    post(api, cst(2026, 11, 3, 9, 0), 3)
    with factory() as db:
        assert run_rollups(db=db, now=cst(2026, 11, 3, 9, 10), calendar=rt.calendar) == [date(2026, 11, 3)]
        db.commit()
    post(api, cst(2026, 11, 3, 9, 30), 40)
    with factory() as db:  # the job: today was built less than an hour ago
        assert run_rollups(db=db, now=cst(2026, 11, 3, 9, 41), calendar=rt.calendar) == []
        db.commit()
    assert runs(api, "2026-11", cst(2026, 11, 3, 9, 41)) == 3  # what the report said before

    with factory() as db:  # a report made now (API, console, CLI and the job go through generate)
        report, _ = service.generate(db=db, month="2026-11", unit="", fmt="html", rt=rt,
                                     now=cst(2026, 11, 3, 9, 41), actor="zhang", replace=True)
        db.commit()
    assert report is not None and runs(api, "2026-11", cst(2026, 11, 3, 9, 41)) == 43

    post(api, cst(2026, 11, 3, 9, 42), 2)
    with factory() as db:
        assert fresh.refresh(db=db, month="2026-11", now=cst(2026, 11, 3, 9, 45), calendar=rt.calendar) == []
        assert fresh.refresh(db=db, month="2026-10", now=cst(2026, 11, 3, 9, 47), calendar=rt.calendar) == []
        assert fresh.refresh(db=db, month="2026-11", now=cst(2026, 11, 3, 9, 46),
                             calendar=rt.calendar) == [date(2026, 11, 3)]
    assert runs(api, "2026-11", cst(2026, 11, 3, 9, 46)) == 45


def test_provisional_days() -> None:
    from collector.sla import WorkCalendar

    cal = WorkCalendar()
    assert fresh.provisional_days("2026-11", cst(2026, 11, 3, 9), cal) == [date(2026, 11, 3)]
    assert fresh.provisional_days("2026-11", cst(2026, 11, 4, 1), cal) == [date(2026, 11, 3), date(2026, 11, 4)]
    # just after midnight on the 1st, the previous month's last day is still provisional
    assert fresh.provisional_days("2026-10", cst(2026, 11, 1, 0, 30), cal) == [date(2026, 10, 31)]
    assert fresh.provisional_days("2026-10", cst(2026, 11, 1, 2, 30), cal) == []
    assert fresh.provisional_days("2026-09", cst(2026, 11, 3, 9), cal) == []


def test_live_html_view_counts_results_of_the_last_minutes(api: Any) -> None:
    """GET /api/v1/reports/view on the real clock: results posted a minute ago are counted."""
    from datetime import datetime, timezone

    rt = runtime(api.app.state.settings)
    now = datetime.now(timezone.utc)
    local = now.astimezone(rt.calendar.tz)
    # all seven results on today's date, also just after midnight (a few minutes ahead is within the skew)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    start = max(now - timedelta(minutes=10), midnight + timedelta(seconds=1))
    post(api, start, 3)
    with api.app.state.sessionmaker() as db:
        run_rollups(db=db, now=now - timedelta(minutes=6), calendar=rt.calendar)
        db.commit()
    post(api, start + timedelta(minutes=6), 4)
    html = api.client.get(f"/api/v1/reports/view?month={local:%Y-%m}", headers=api.h(api.viewer_key)).text
    assert "<td>巡检次数</td><td>7</td>" in html
