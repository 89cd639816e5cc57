"""The monthly job makes every unit's report even when one fails; the failure is recorded, shown in
the console with its reason, counted on /metrics, and retried by the next run within 10 minutes."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from collector.app import REPORT_RETRY
from collector.hosts import service as hosts
from collector.reports import pdf
from collector.reports.models import Report, ReportFailure
from tests.collector.console.conftest import PASSWORDS, Browser
from tests.collector.reports.month_data import cst

FIRST_WORKDAY = cst(2026, 10, 8, 9, 0)  # after National Day


def job(api: Any) -> Any:
    return next(j for j in api.app.state.jobs.jobs if j.name == "monthly-report")


def made(api: Any) -> set[tuple[str, str]]:
    with api.app.state.sessionmaker() as db:
        return set(db.execute(sa.select(Report.unit, Report.format).where(Report.month == "2026-09")).all())


def metric(api: Any, name: str) -> float | None:
    for family in text_string_to_metric_families(api.client.get("/metrics").text):
        for s in family.samples:
            if s.name == name and s.labels == {"job": "monthly-report"}:
                return s.value
    return None


def test_one_unit_failing_stops_no_other_and_is_retried(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.users import service as users

    with api.app.state.sessionmaker() as db:
        for unit in ("A单位", "B单位", "C单位"):
            hosts.enroll(db=db, name=f"h-{unit}", unit=unit)
        users.add(db=db, name="li", role="engineer", password=PASSWORDS["li"])
        db.commit()
    real = pdf.render

    def broken_for_b(data: Any) -> bytes:
        if data.unit == "B单位":
            raise OSError("磁盘已满 <b>")
        return real(data)

    monkeypatch.setattr(pdf, "render", broken_for_b)
    runner = api.app.state.jobs
    with pytest.raises(RuntimeError, match="B单位"):
        runner.run_one(job(api), FIRST_WORKDAY)
    units = {"", "A单位", "B单位", "C单位", "某县财政局", "某市财政局"}
    assert made(api) == {(u, f) for u in units for f in ("xlsx", "pdf", "forms")} - {
        ("B单位", "xlsx"), ("B单位", "pdf"), ("B单位", "forms")}
    with api.app.state.sessionmaker() as db:
        [failure] = db.scalars(sa.select(ReportFailure)).all()
        assert (failure.month, failure.unit, failure.attempts) == ("2026-09", "B单位", 1)
        assert failure.error == "OSError: 磁盘已满 <b>"
    assert metric(api, "xunjian_job_failures_total") == 1
    assert metric(api, "xunjian_job_last_success_timestamp_seconds") is None

    b = Browser(api.app)
    b.login("li")
    page = b.get("/console/reports").text
    assert "生成失败" in page and "B单位" in page and "OSError: 磁盘已满 &lt;b&gt;" in page

    assert REPORT_RETRY <= timedelta(minutes=10) and job(api).every == REPORT_RETRY
    assert not runner.run_one(job(api), FIRST_WORKDAY + REPORT_RETRY / 2)  # not yet due
    with pytest.raises(RuntimeError):  # still broken: counted again
        runner.run_one(job(api), FIRST_WORKDAY + REPORT_RETRY)
    assert metric(api, "xunjian_job_failures_total") == 2
    monkeypatch.setattr(pdf, "render", real)
    retry_at = FIRST_WORKDAY + 2 * REPORT_RETRY
    assert runner.run_one(job(api), retry_at)
    assert ("B单位", "pdf") in made(api) and len(made(api)) == 18
    with api.app.state.sessionmaker() as db:
        assert db.scalars(sa.select(ReportFailure)).all() == []
    assert metric(api, "xunjian_job_last_success_timestamp_seconds") == retry_at.timestamp()
    assert metric(api, "xunjian_job_failures_total") == 2
    assert "生成失败" not in b.get("/console/reports").text


def test_console_shows_why_a_manual_report_failed(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.users import service as users

    with api.app.state.sessionmaker() as db:
        users.add(db=db, name="li", role="engineer", password=PASSWORDS["li"])
        db.commit()

    def broken(data: Any) -> bytes:
        raise OSError("磁盘已满")

    monkeypatch.setattr(pdf, "render", broken)
    b = Browser(api.app)
    b.login("li")
    b.get("/console/reports")
    r = b.post("/console/reports", {"month": "2026-09", "unit": "", "format": "pdf"})
    assert r.status_code == 500 and "生成失败: OSError: 磁盘已满" in r.text
