"""Report months: 'YYYY-MM' ↔ dates, and the first working day after a month."""
from __future__ import annotations

from datetime import date, timedelta

from collector.sla import WorkCalendar


def previous_month(d: date) -> str:
    last = d.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


def first_workday(month_start: date, calendar: WorkCalendar) -> date:
    d = month_start
    while not calendar.is_workday(d):
        d += timedelta(days=1)
    return d
