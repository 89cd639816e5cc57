"""Rollups (idempotent, midnight-exact cover) and raw-result retention (batched DELETE on SQLite,
monthly partitions on PostgreSQL)."""
from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from checks.model import Status
from collector.results.models import ResultRow
from collector.rollups.models import ResultRollup
from collector.rollups.retention import ensure_partitions, partitions, run_retention
from collector.rollups.service import build_day, run_rollups
from collector.runtime import runtime
from tests.collector.factories import batch, result
from tests.collector.reports.month_data import cst


def post(api: Any, *results: Any) -> None:
    """Ingest as an agent would right after the newest of them ran (the collector's clock set to then, so a
    past month's results stay inside the ingest window whatever today's date)."""
    newest = max(r.started_at for r in results)
    api.app.state.clock = lambda: newest + timedelta(minutes=1)
    for i in range(0, len(results), 500):
        r = api.post_results(batch(*results[i:i + 500]))
        assert r.status_code == 200, r.text


def rollups(api: Any) -> dict[tuple[date, str], ResultRollup]:
    with api.app.state.read_sessionmaker() as db:
        return {(r.day, r.check): r for r in db.scalars(sa.select(ResultRollup))}


def test_rollup_cover_is_cut_at_midnight_and_idempotent(api: Any) -> None:
    # every 10 minutes from 2026-11-02 22:00 to 11-03 02:00; CRITICAL from 23:30 to 00:30
    start = cst(2026, 11, 2, 22, 0)
    times = [start + timedelta(minutes=10 * i) for i in range(25)]
    bad = [cst(2026, 11, 2, 23, 30) <= t < cst(2026, 11, 3, 0, 30) for t in times]
    post(api, *[result(status=Status.CRITICAL if b else Status.OK, at=t, critical_events=int(b))
                for t, b in zip(times, bad)])
    cal = runtime(api.app.state.settings).calendar
    now = cst(2026, 11, 3, 2, 5)
    with api.app.state.sessionmaker() as db:
        assert run_rollups(db=db, now=now, calendar=cal) == [date(2026, 11, 2), date(2026, 11, 3)]
        db.commit()
    first = rollups(api)
    d2, d3 = first[(date(2026, 11, 2), "voucher-log")], first[(date(2026, 11, 3), "voucher-log")]
    assert (d2.runs, d2.critical, d2.ok) == (12, 3, 9) and (d3.runs, d3.critical) == (13, 3)
    assert d2.observed_seconds == 2 * 3600 and d2.bad_seconds == 30 * 60
    # the last result (02:00) covers until `now`, not into the future
    assert d3.observed_seconds == 2 * 3600 + 5 * 60 and d3.bad_seconds == 30 * 60
    assert d2.bad_work_seconds == 0 and d2.observed_work_seconds == 0  # evening: outside service hours
    assert d2.critical_events == 3 and d3.critical_events == 3
    with api.app.state.sessionmaker() as db:  # rebuilding changes nothing
        build_day(db=db, day=date(2026, 11, 2), calendar=cal, now=now)
        db.commit()
    again = rollups(api)
    assert {k: (v.runs, v.bad_seconds) for k, v in again.items()} == {k: (v.runs, v.bad_seconds)
                                                                       for k, v in first.items()}


def test_rollup_job_backfills_missing_days(api: Any) -> None:
    post(api, *[result(at=cst(2026, 11, d, 9, 0) + timedelta(minutes=m)) for d in (5, 6, 9) for m in (0, 1)])
    cal = runtime(api.app.state.settings).calendar
    with api.app.state.sessionmaker() as db:
        built = run_rollups(db=db, now=cst(2026, 11, 12, 9), calendar=cal)
        db.commit()
    assert built == [date(2026, 11, 5), date(2026, 11, 6), date(2026, 11, 9)]
    with api.app.state.sessionmaker() as db:  # days already rolled up are not rebuilt
        assert run_rollups(db=db, now=cst(2026, 11, 12, 9, 5), calendar=cal) == []


def count(api: Any) -> int:
    with api.app.state.read_sessionmaker() as db:
        return db.scalar(sa.select(sa.func.count()).select_from(ResultRow))


def test_retention_prunes_old_results(api: Any) -> None:
    now = datetime.now(cst(2026, 1, 1).tzinfo)
    old = [result(at=now - timedelta(days=60, minutes=i)) for i in range(30)]
    edge = [result(at=now - timedelta(days=34, minutes=i)) for i in range(5)]
    fresh = [result(at=now - timedelta(minutes=i)) for i in range(10)]
    post(api, *old, *edge, *fresh)
    settings = api.app.state.settings
    assert settings.retention_days == 35
    with api.app.state.sessionmaker() as db:
        run_retention(db=db, now=now, retention_days=settings.retention_days, tz=settings.timezone)
        db.commit()
    assert count(api) == 15
    with api.app.state.sessionmaker() as db:
        if db.get_bind().dialect.name == "postgresql":
            names = set(partitions(db))
            month = now.date().replace(day=1)
            assert f"results_{month:%Y%m}" in names and "results_default" in names
            assert len([n for n in names if n != "results_default"]) >= 3


@pytest.mark.postgres
def test_partitions_take_over_rows_from_default_and_old_ones_are_dropped(pg_url: str) -> None:
    from collector import migrate
    from collector.db import make_engine, make_sessionmaker
    from collector.hosts import service as hosts

    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    with factory() as db:
        host, _ = hosts.enroll(db=db, name="web01", unit="某市财政局")
        db.flush()
        for at in (cst(2026, 8, 15), cst(2026, 9, 3), cst(2026, 9, 30, 23, 59), cst(2026, 10, 1, 0, 0)):
            db.execute(sa.insert(ResultRow), [{"id": uuid.uuid4(), "started_at": at, "host_id": host.id,
                                               "check": "c", "type": "log", "system": "os", "status": 0,
                                               "summary": "", "duration": 0.0, "metrics": [], "details": {},
                                               "received_at": at}])
        db.commit()
        # September becomes a partition of its own: its two rows move out of DEFAULT
        made = ensure_partitions(db=db, now=cst(2026, 9, 10), tz="Asia/Shanghai")
        db.commit()
        assert made == ["results_202609", "results_202610", "results_202611"]
        rows = dict(db.execute(sa.text("SELECT tableoid::regclass::text, count(*) FROM results GROUP BY 1")).all())
        assert rows == {"results_default": 1, "results_202609": 2, "results_202610": 1}
        assert ensure_partitions(db=db, now=cst(2026, 9, 11), tz="Asia/Shanghai") == []
        # cutoff 35 days before 2026-11-05 = 10-01 00:00: September is wholly older → dropped;
        # August's row is deleted from DEFAULT; October's first row stays
        run_retention(db=db, now=cst(2026, 11, 5), retention_days=35, tz="Asia/Shanghai")
        db.commit()
        names = set(partitions(db))
        assert "results_202609" not in names and {"results_202610", "results_202611", "results_202612",
                                                  "results_202701"} <= names
        assert db.scalar(sa.select(sa.func.count()).select_from(ResultRow)) == 1
    engine.dispose()


def test_cli_report_monthly(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    exe = [sys.executable, "-m", "collector.cli"]
    subprocess.run([*exe, "agent", "enroll", "web01", "--unit", "某市财政局", "--db", db], check=True,
                   capture_output=True)
    out = tmp_path / "r.xlsx"
    p = subprocess.run([*exe, "report", "monthly", "--month", "2026-09", "--unit", "某市财政局", "--format", "xlsx",
                        "--out", str(out), "--db", db], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    wb = load_workbook(out)
    assert wb["概况"]["B4"].value == "某市财政局"
    bad = subprocess.run([*exe, "report", "monthly", "--month", "2026-9", "--out", str(out), "--db", db],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr


def test_today_is_rebuilt_hourly_and_a_finished_day_once_final(api: Any) -> None:
    post(api, *[result(at=cst(2026, 11, 3, 9, 0) + timedelta(minutes=m)) for m in range(3)])
    cal = runtime(api.app.state.settings).calendar

    def run(*at: int) -> list[date]:
        with api.app.state.sessionmaker() as db:
            out = run_rollups(db=db, now=cst(*at), calendar=cal)
            db.commit()
        return out

    assert run(2026, 11, 3, 9, 10) == [date(2026, 11, 3)]
    assert run(2026, 11, 3, 9, 40) == []  # built less than an hour ago
    assert run(2026, 11, 3, 10, 15) == [date(2026, 11, 3)]
    assert run(2026, 11, 4, 1, 0) == []  # yesterday is not final before 02:00 (late results)
    assert run(2026, 11, 4, 2, 5) == [date(2026, 11, 3)]
    assert run(2026, 11, 4, 3, 5) == []
    assert rollups(api)[(date(2026, 11, 3), "voucher-log")].runs == 3


def test_jobs_are_registered(settings: Any) -> None:
    from collector.app import default_jobs

    jobs = {j.name: j.every for j in default_jobs(settings, None)}
    assert jobs["rollups"] == timedelta(minutes=5)
    assert jobs["retention"] == timedelta(hours=1) and jobs["monthly-report"] == timedelta(minutes=5)


def test_forecast_is_a_least_squares_line() -> None:
    from collector.reports.forecast import forecast

    days = [date(2026, 9, 1) + timedelta(days=i) for i in range(30)]
    assert forecast([(d, 50 + i) for i, d in enumerate(days)]) == (1.0, date(2026, 10, 21))
    noisy = [(d, 40 + 2 * i + (1 if i % 2 else -1)) for i, d in enumerate(days)]
    slope, full = forecast(noisy)
    assert abs(slope - 2) < 0.01 and full == date(2026, 10, 1)  # 40 + 2x = 100 at x = 30
    assert forecast([(d, 60.0) for d in days])[1] is None  # flat
    assert forecast([(d, 80 - i) for i, d in enumerate(days)])[1] is None  # shrinking
    assert forecast([(days[0], 99.0)]) == (None, None)
