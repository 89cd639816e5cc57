"""Current figures at report time: the rollup job rebuilds the running day hourly (it is provisional
until its end + LOOKAROUND), so before a report of a month that holds such a day is made, that day's
rollups are rebuilt when older than FRESH. The work is one day's results, once per FRESH at most —
the same the hourly job does, and only when somebody asks for a report."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.rollups.models import ResultRollup
from collector.rollups.service import LOOKAROUND, build_day, day_bounds, local_day, run_rollups
from collector.sla import WorkCalendar
from collector.timefmt import month_range

FRESH = timedelta(minutes=5)


def provisional_days(month: str, now: datetime, calendar: WorkCalendar) -> list[date]:
    """The days of `month` whose rollups may still change (yesterday before it is final, today)."""
    first, after = month_range(month)
    today = local_day(now, calendar)
    return [d for d in (today - timedelta(days=1), today)
            if first <= d < after and now < day_bounds(d, calendar)[1] + LOOKAROUND]


def refresh(*, db: Session, month: str, now: datetime, calendar: WorkCalendar) -> list[date]:
    """Bring the rollups `month`'s report reads to at most FRESH old; returns the days rebuilt."""
    days = provisional_days(month, now, calendar)
    if not days:
        return []
    built = run_rollups(db=db, now=now, calendar=calendar)  # days never built, as the job would
    for d in days:
        if d in built:
            continue
        last = db.scalar(sa.select(sa.func.max(ResultRollup.updated_at)).where(ResultRollup.day == d))
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=timezone.utc)
        if (last is None or now - last >= FRESH) and build_day(db=db, day=d, calendar=calendar, now=now):
            built.append(d)
    db.commit()
    return built
