"""Report months: 'YYYY-MM' ↔ dates, and the first working day after a month."""
from __future__ import annotations

import re
from datetime import date, timedelta

from collector.sla import WorkCalendar

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_range(month: str) -> tuple[date, date]:
    """[first day, first day of the next month) of 'YYYY-MM'."""
    m = _MONTH.match(month or "")
    if not m:
        raise ValueError(f"月份格式应为 YYYY-MM: {month!r}")
    if not 2000 <= int(m[1]) <= 2099:  # local-time arithmetic near year 1 overflows; no service is that old
        raise ValueError(f"月份超出范围 (2000-01 至 2099-12): {month!r}")
    start = date(int(m[1]), int(m[2]), 1)
    return start, next_month(start)


def next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def previous_month(d: date) -> str:
    last = d.replace(day=1) - timedelta(days=1)
    return f"{last:%Y-%m}"


def first_workday(month_start: date, calendar: WorkCalendar) -> date:
    d = month_start
    while not calendar.is_workday(d):
        d += timedelta(days=1)
    return d
