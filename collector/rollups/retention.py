"""Raw results are kept `Settings.retention_days`; rollups keep the history.

PostgreSQL: `results` is partitioned by month (migration 0001, with a DEFAULT partition). The job
creates `results_YYYYMM` for the current and the next two months (moving any rows the DEFAULT
partition already holds for that month), drops partitions wholly older than the cutoff, and
deletes the rest in batches. SQLite: batched DELETE.
"""
from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.db import is_postgres
from collector.results.models import ResultRow

log = logging.getLogger("xunjian.retention")
BATCH = 5000
_PART = re.compile(r"^results_(\d{4})(\d{2})$")


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    return date(y, m + 1, 1)


def partitions(db: Session) -> list[str]:
    q = sa.text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'results'::regclass")
    return [r[0] for r in db.execute(q)]


def ensure_partitions(*, db: Session, now: datetime, tz: str, ahead: int = 2) -> list[str]:
    """Monthly partitions for this month and `ahead` more (PostgreSQL only); returns those created."""
    if not is_postgres(db.get_bind()):
        return []
    have = set(partitions(db))
    created = []
    first = month_start(now.astimezone(ZoneInfo(tz)).date())
    for i in range(ahead + 1):
        m = add_months(first, i)
        name = f"results_{m:%Y%m}"
        if name in have:
            continue
        # Bounds in UTC-free form: partitions cover [start, end) of the month in the service's zone.
        lo = datetime.combine(m, time(0), ZoneInfo(tz))
        hi = datetime.combine(add_months(m, 1), time(0), ZoneInfo(tz))
        with db.begin_nested():
            db.execute(sa.text(f'CREATE TABLE "{name}" (LIKE results INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
            # Rows that landed in DEFAULT for this month move over, or ATTACH would refuse.
            db.execute(sa.text(f'WITH moved AS (DELETE FROM results_default WHERE started_at >= :lo AND '
                               f'started_at < :hi RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'),
                       {"lo": lo, "hi": hi})
            db.execute(sa.text(f"ALTER TABLE results ATTACH PARTITION \"{name}\" FOR VALUES FROM "
                               f"('{lo.isoformat()}') TO ('{hi.isoformat()}')"))
        created.append(name)
    return created


def prune_results(*, db: Session, now: datetime, retention_days: int, tz: str) -> int:
    """Remove raw results older than the retention; returns rows deleted (dropped partitions not counted)."""
    cutoff = now - timedelta(days=retention_days)
    if is_postgres(db.get_bind()):
        for name in partitions(db):
            m = _PART.match(name)
            if not m:
                continue
            end = datetime.combine(add_months(date(int(m[1]), int(m[2]), 1), 1), time(0), ZoneInfo(tz))
            if end <= cutoff:
                db.execute(sa.text(f'ALTER TABLE results DETACH PARTITION "{name}"'))
                db.execute(sa.text(f'DROP TABLE "{name}"'))
                log.info("dropped partition %s (older than %d days)", name, retention_days)
        db.commit()
        old = sa.select(ResultRow.started_at, ResultRow.id).where(ResultRow.started_at < cutoff).limit(BATCH)
        key = sa.tuple_(ResultRow.started_at, ResultRow.id)
        return _batched(db, lambda: db.execute(sa.delete(ResultRow).where(key.in_(old))).rowcount or 0)
    ids = sa.select(sa.literal_column("rowid")).select_from(ResultRow.__table__).where(
        ResultRow.started_at < cutoff).limit(BATCH).scalar_subquery()
    return _batched(db, lambda: db.execute(sa.delete(ResultRow).where(sa.literal_column("rowid").in_(ids)))
                    .rowcount or 0)


def _batched(db: Session, delete_some: Any) -> int:
    total = 0
    while True:
        n = delete_some()
        db.commit()  # short transactions: ingest keeps going (SQLite write lock, PostgreSQL row locks)
        total += n
        if n < BATCH:
            return total


def run_retention(*, db: Session, now: datetime, retention_days: int, tz: str) -> int:
    ensure_partitions(db=db, now=now, tz=tz)
    db.commit()
    return prune_results(db=db, now=now, retention_days=retention_days, tz=tz)
