"""Automatic monthly reports that failed: recorded per (month, unit) with the reason, shown in the
console and retried by the job until one try succeeds (then the record goes)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.reports.models import ReportFailure

REASON_MAX = 2000


def reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:REASON_MAX]


def record(*, db: Session, month: str, unit: str, error: str, now: datetime) -> ReportFailure:
    row = db.get(ReportFailure, (month, unit))
    if row is None:
        row = ReportFailure(month=month, unit=unit, error=error, failed_at=now, attempts=1)
        db.add(row)
    else:
        row.error, row.failed_at, row.attempts = error, now, row.attempts + 1
    return row


def clear(*, db: Session, month: str, unit: str) -> None:
    db.execute(sa.delete(ReportFailure).where(ReportFailure.month == month, ReportFailure.unit == unit))


def open_failures(*, db: Session, limit: int = 100) -> list[ReportFailure]:
    q = sa.select(ReportFailure).order_by(ReportFailure.month.desc(), ReportFailure.unit).limit(limit)
    return list(db.scalars(q))


class ReportsFailed(RuntimeError):
    """Raised by the monthly job after making every other unit's report, so the job counts a failure."""
