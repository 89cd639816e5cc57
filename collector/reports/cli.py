"""`xunjian-collector report monthly`: write one month's report to a file (not stored)."""
from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy.orm import Session

from collector.config import Settings
from collector.db import utcnow
from collector.reports import fresh, service
from collector.reports.period import month_range
from collector.rollups.service import reader
from collector.runtime import runtime


def monthly(*, db: Session, settings: Settings, month: str, unit: str, fmt: str, out: str) -> int:
    rt, now = runtime(settings, db), utcnow()
    month_range(month)
    fresh.refresh(db=db, month=month, now=now, calendar=rt.calendar)
    with reader(db) as rd:  # never hold the SQLite write lock of a running collector while rendering
        content = service.render(db=rd, month=month, unit=unit, fmt=fmt, rt=rt, now=now)
    Path(out).write_bytes(content)
    print(f"已生成 {month} {unit or '全部单位'} 系统服务月报: {out} ({len(content)} 字节)", file=sys.stderr)
    return 0
