"""Maintenance windows: while one covers a result, the result is kept but no ticket opens."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.maintenance.models import MaintenanceWindow


def create(*, db: Session, title: str, starts_at: datetime, ends_at: datetime, unit: str = "", host: str = "",
           system: str = "", actor: str, now: datetime) -> MaintenanceWindow:
    if ends_at <= starts_at:
        raise ValueError("结束时间必须晚于开始时间")
    w = MaintenanceWindow(title=title, unit=unit, host=host, system=system, starts_at=starts_at, ends_at=ends_at,
                          created_by=actor, created_at=now)
    db.add(w)
    db.flush()
    return w


def cancel(*, db: Session, window: MaintenanceWindow, now: datetime) -> None:
    window.cancelled_at = now


def overlapping(*, db: Session, start: datetime, end: datetime) -> list[MaintenanceWindow]:
    q = sa.select(MaintenanceWindow).where(MaintenanceWindow.cancelled_at.is_(None),
                                           MaintenanceWindow.starts_at <= end, MaintenanceWindow.ends_at > start)
    return list(db.scalars(q))


def list_windows(*, db: Session, active_at: Optional[datetime] = None, limit: int = 200) -> list[MaintenanceWindow]:
    q = sa.select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at.desc()).limit(limit)
    if active_at is not None:
        q = q.where(MaintenanceWindow.cancelled_at.is_(None), MaintenanceWindow.starts_at <= active_at,
                    MaintenanceWindow.ends_at > active_at)
    return list(db.scalars(q))


def covers(window: MaintenanceWindow, *, at: datetime, unit: str, host: str, system: str) -> bool:
    return (window.cancelled_at is None and window.starts_at <= at < window.ends_at
            and (not window.unit or window.unit == unit) and (not window.host or window.host == host)
            and (not window.system or window.system == system))


def covering(windows: list[MaintenanceWindow], *, at: datetime, unit: str, host: str,
             system: str) -> Optional[MaintenanceWindow]:
    for w in windows:
        if covers(w, at=at, unit=unit, host=host, system=system):
            return w
    return None
