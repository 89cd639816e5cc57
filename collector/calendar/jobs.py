"""Calendar jobs: tell the admins once that a year's holiday data is missing; recompute due times still
marked as computed on the fallback once their years are covered."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from alerts.notify import Notification
from collector.calendar.recompute import recompute
from collector.calendar.service import ImportResult, coverage
from collector.notifications import service as notifications


def announce_uncovered(*, db: Session, rt: Any, now: datetime) -> dict[str, int]:
    """One notification per missing year, ever: the outbox's dedup key holds across runs and processes."""
    cov = coverage(rt.calendar, now)
    queued = 0
    for year in cov.uncovered:
        rows = notifications.enqueue(
            db=db, config=rt.notify, now=now, dedup_key=f"calendar_uncovered:{year}",
            notification=Notification(kind="calendar_uncovered", severity="warning",
                                      title=f"缺少 {year} 年法定节假日安排, 服务单响应时限将按周一至周五计算",
                                      text=cov.message))
        queued += len(rows)
    return {"queued": queued}


def heal_fallback(*, db: Session, rt: Any, now: datetime) -> dict[str, int]:
    """Running tickets whose due time is marked `calendar_fallback` though their years are covered now.

    The import recomputes the running clocks itself; this catches a ticket that another process
    computed on its not-yet-synced calendar in the moment of an import, or a year covered by a
    config file after a restart."""
    result = ImportResult()
    recompute(db=db, rt=rt, years=None, now=now, actor="system", reason="工作日历已更新", result=result,
              fallback_only=True)
    return {"recomputed": len(result.recomputed)}
