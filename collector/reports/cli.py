"""`xunjian-collector report monthly` and `report forms`: one month's report, or its 系统服务单, to a
file (not stored)."""
from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy.orm import Session

from collector.config import Settings
from collector.db import utcnow
from collector.reports import fresh, service
from collector.rollups.service import reader
from collector.runtime import runtime
from collector.timefmt import month_range


def monthly(*, db: Session, settings: Settings, month: str, unit: str, fmt: str, out: str) -> int:
    rt, now = runtime(settings, db), utcnow()
    month_range(month)
    fresh.refresh(db=db, month=month, now=now, calendar=rt.calendar)
    with reader(db) as rd:  # never hold the SQLite write lock of a running collector while rendering
        content = service.render(db=rd, month=month, unit=unit, fmt=fmt, rt=rt, now=now)
    Path(out).write_bytes(content)
    print(f"已生成 {month} {unit or '全部单位'} 系统服务月报: {out} ({len(content)} 字节)", file=sys.stderr)
    return 0


def forms(*, db: Session, settings: Settings, month: str, unit: str, out: str) -> int:
    from collector.reports import forms as handover

    tz = runtime(settings).calendar.tz
    with reader(db) as rd:
        tickets = handover.tickets_of(rd, month=month, unit=unit, tz=tz)
        y, m = month.split("-")
        content = handover.render(tickets, tz=tz, title=f"系统服务单 {y}年{int(m)}月 {unit or '全部单位'}")
    Path(out).write_bytes(content)
    print(f"已生成 {month} {unit or '全部单位'} 系统服务单 {len(tickets)} 张: {out} ({len(content)} 字节)",
          file=sys.stderr)
    return 0
