"""Generating, storing and announcing monthly reports; the first-working-day job."""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from alerts.notify import Notification
from collector.db import insert_for
from collector.hosts.models import Host
from collector.notifications import service as notifications
from collector.reports import builder, failures, fresh, mailing
from collector.reports.data import ReportData
from collector.reports.models import FORMATS, FORMS, Report
from collector.reports.models import MEDIA_TYPES as MEDIA_TYPES  # re-exported for the download views
from collector.reports.period import first_workday, previous_month
from collector.rollups.service import reader
from collector.runtime import Runtime
from collector.timefmt import month_range

log = logging.getLogger("xunjian.reports")
JOB_FORMATS = ("xlsx", "pdf", FORMS)  # FORMS: the month's 系统服务单, handed over with the report


def build(*, db: Session, month: str, unit: str, rt: Runtime, now: datetime) -> ReportData:
    return builder.build(db=db, month=month, unit=unit, calendar=rt.calendar, now=now, policy=rt.policy,
                         settings=rt.report)


def render(*, db: Session, month: str, unit: str, fmt: str, rt: Runtime, now: datetime,
           data: Optional[ReportData] = None) -> bytes:
    """The report as bytes in `fmt` (xlsx | pdf | html | docx); `data` when already gathered."""
    if fmt not in FORMATS:
        raise ValueError(f"格式须为 {'/'.join(FORMATS)}")
    if data is None:
        data = build(db=db, month=month, unit=unit, rt=rt, now=now)
    if fmt == "xlsx":
        from collector.reports import xlsx
        return xlsx.render(data)
    if fmt == "pdf":
        from collector.reports import pdf
        return pdf.render(data)
    if fmt == "docx":
        from collector.reports import word
        return word.render(data)
    from collector.reports import html
    return html.render(data).encode("utf-8")


def render_forms(*, db: Session, month: str, unit: str, rt: Runtime) -> tuple[bytes, int]:
    """The month's 系统服务单 (by call time) as one PDF, and how many."""
    from collector.reports import forms

    tickets = forms.tickets_of(db, month=month, unit=unit, tz=rt.calendar.tz)
    y, m = month.split("-")
    title = f"系统服务单 {y}年{int(m)}月 {unit or '全部单位'}"
    return forms.render(tickets, tz=rt.calendar.tz, title=title), len(tickets)


def get(*, db: Session, month: str, unit: str, fmt: str) -> Optional[Report]:
    return db.scalar(sa.select(Report).where(Report.month == month, Report.unit == unit, Report.format == fmt))


def generate(*, db: Session, month: str, unit: str, fmt: str, rt: Runtime, now: datetime, actor: str = "system",
             replace: bool = False) -> tuple[Optional[Report], bool]:
    """Store the report; returns (report, created). Without `replace` an existing one is kept, and
    when another process stored it meanwhile the unique (month, unit, format) keeps one.
    Commits what `db` holds first, and gathers through a reader, so on SQLite the write lock is held
    only while the bytes are stored, not during the seconds of rendering."""
    month_range(month)
    db.commit()
    fresh.refresh(db=db, month=month, now=now, calendar=rt.calendar)
    with reader(db) as rd:
        if not replace and get(db=rd, month=month, unit=unit, fmt=fmt) is not None:
            return get(db=db, month=month, unit=unit, fmt=fmt), False
        content = render(db=rd, month=month, unit=unit, fmt=fmt, rt=rt, now=now)
    return store(db=db, month=month, unit=unit, fmt=fmt, content=content, now=now, actor=actor, replace=replace)


def store(*, db: Session, month: str, unit: str, fmt: str, content: bytes, now: datetime, actor: str,
          replace: bool) -> tuple[Optional[Report], bool]:
    values = {"generated_at": now, "generated_by": actor, "size": len(content),
              "sha256": hashlib.sha256(content).hexdigest(), "content": content}
    stmt = insert_for(db.get_bind(), Report.__table__).values(month=month, unit=unit, format=fmt, **values)
    conflict = ["month", "unit", "format"]
    stmt = (stmt.on_conflict_do_update(index_elements=conflict, set_=values) if replace
            else stmt.on_conflict_do_nothing(index_elements=conflict))
    existing = get(db=db, month=month, unit=unit, fmt=fmt) if replace else None
    new_id = db.execute(stmt.returning(Report.__table__.c.id)).scalar()
    report = get(db=db, month=month, unit=unit, fmt=fmt)
    if report is not None:
        db.refresh(report)
    return report, new_id is not None and existing is None


def announce(*, db: Session, rt: Runtime, now: datetime, month: str, unit: str, formats: list[str],
             url: str = "") -> None:
    y, m = month.split("-")
    who = unit or "全部单位"
    notifications.enqueue(db=db, config=rt.notify, now=now, dedup_key=f"report:{month}:{unit}",
                          notification=Notification(
                              kind="report_ready", title=f"系统服务月报 {y}年{int(m)}月 ({who}) 已生成",
                              text=f"{who} {y}年{int(m)}月的系统服务月报已生成 "
                                   f"({'/'.join('系统服务单' if f == FORMS else f for f in formats)}), "
                                   f"可在 /api/v1/reports 下载。", unit=unit, url=url))


def units(*, db: Session) -> list[str]:
    return sorted(u for u in db.scalars(sa.select(Host.unit).distinct()) if u)


def run_monthly(*, db: Session, now: datetime, rt: Runtime, public_url: str = "") -> list[Report]:
    """The job: from the first working day of a month (local time, SLA calendar, holidays included),
    the previous month's reports exist — overall and one per unit, xlsx and pdf, with the month's
    系统服务单 (forms) — and each unit with contacts (report.contacts) has its report and forms queued
    to them by mail (collector.reports.mailing), in the transaction that stores its files. Idempotent.
    Each unit is made on its own: a unit that fails is recorded (collector.reports.failures, shown in
    the console) and the others are still made; the job then raises so it counts as failed, and its
    next run (every few minutes) tries the missing ones again."""
    today = now.astimezone(rt.calendar.tz).date()
    due = first_workday(today.replace(day=1), rt.calendar)
    if today < due:
        return []
    month = previous_month(today)
    made: list[Report] = []
    failed: list[str] = []
    refreshed = False
    with reader(db) as rd:
        stored = set(rd.execute(sa.select(Report.unit, Report.format).where(Report.month == month)).all())
        for unit in ["", *units(db=rd)]:
            missing = [f for f in JOB_FORMATS if (unit, f) not in stored]
            if not missing:
                if today == due and unit in rt.report.contacts:  # all made by hand before the job: still sent
                    mailing.enqueue(db=db, rt=rt, now=now, month=month, unit=unit)
                    db.commit()
                continue
            if not refreshed:  # on the 1st soon after midnight the month's last day is still provisional
                refreshed = _refresh(db=db, rd=rd, month=month, now=now, rt=rt)
            try:
                made += _monthly_unit(db=db, rd=rd, rt=rt, now=now, month=month, unit=unit, formats=missing,
                                      public_url=public_url)
                failures.clear(db=db, month=month, unit=unit)
                db.commit()  # each unit on its own, in a short write transaction
            except Exception as e:
                db.rollback()
                log.exception("monthly report %s %s failed", month, unit or "overall")
                failures.record(db=db, month=month, unit=unit, error=failures.reason(e), now=now)
                db.commit()
                failed.append(unit or "全部单位")
    if failed:
        raise failures.ReportsFailed(f"{month} 月报生成失败: {', '.join(failed)}")
    return made


def _refresh(*, db: Session, rd: Session, month: str, now: datetime, rt: Runtime) -> bool:
    """Fresh rollups before the first report is made; stale figures beat no report, so a failure here
    is logged and the reports are made from what exists."""
    try:
        fresh.refresh(db=db, month=month, now=now, calendar=rt.calendar)
    except Exception:
        db.rollback()
        log.exception("rollups of %s could not be refreshed before its reports", month)
    rd.commit()  # a new read snapshot sees what was rebuilt
    return True


def _monthly_unit(*, db: Session, rd: Session, rt: Runtime, now: datetime, month: str, unit: str,
                  formats: list[str], public_url: str) -> list[Report]:
    reports = [f for f in formats if f != FORMS]
    contents: dict[str, bytes] = {}
    if reports:
        data = build(db=rd, month=month, unit=unit, rt=rt, now=now)  # once per unit
        contents = {f: render(db=rd, month=month, unit=unit, fmt=f, rt=rt, now=now, data=data) for f in reports}
    tickets = None
    if FORMS in formats:
        contents[FORMS], tickets = render_forms(db=rd, month=month, unit=unit, rt=rt)
    made, created = [], []
    for fmt, content in contents.items():
        report, new = store(db=db, month=month, unit=unit, fmt=fmt, content=content, now=now,
                            actor="system", replace=False)
        if new and report is not None:
            made.append(report)
            created.append(fmt)
    if created:
        announce(db=db, rt=rt, now=now, month=month, unit=unit, formats=created,
                 url=f"{public_url.rstrip('/')}/api/v1/reports?month={month}" if public_url else "")
        log.info("monthly report %s %s generated (%s)", month, unit or "overall", ",".join(created))
    if mailing.enqueue(db=db, rt=rt, now=now, month=month, unit=unit, tickets=tickets) is not None:
        log.info("monthly report %s %s queued by mail to %s", month, unit, ", ".join(rt.report.contacts[unit]))
    return made
