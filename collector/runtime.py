"""Objects built once from the settings and shared by services: the SLA calendar and policy, and the
notification channels and routes. Built lazily and cached per Settings object.

Given a database session, `runtime` also brings the calendar up to the years imported into the
database (one indexed lookup when nothing changed), so an import made by another process counts at once."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy.orm import Session

from alerts.notify import NotifyConfig, build_notify
from collector.calendar.sync import sync
from collector.config import ReportSettings, Settings
from collector.sla import SlaPolicy, WorkCalendar


@dataclass
class Runtime:
    calendar: WorkCalendar
    policy: SlaPolicy
    notify: NotifyConfig
    report: ReportSettings = field(default_factory=ReportSettings)


_cache: dict[int, tuple[Settings, Runtime]] = {}
_lock = threading.Lock()


def runtime(settings: Settings, db: Optional[Session] = None) -> Runtime:
    rt = _build(settings)
    if db is not None:
        sync(db, rt.calendar)
    return rt


def _build(settings: Settings) -> Runtime:
    key = id(settings)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is settings:
            return hit[1]
        sla: dict[str, Any] = dict(settings.sla or {})
        cal_cfg = dict(sla.get("calendar") or {})
        if settings.calendar_files:
            cal_cfg.setdefault("schedules", list(settings.calendar_files))
        cal_cfg.setdefault("timezone", settings.timezone)
        rt = Runtime(calendar=WorkCalendar.from_config(cal_cfg), policy=SlaPolicy.from_dict(sla),
                     notify=build_notify(settings.notify or {}), report=settings.report)
        _cache[key] = (settings, rt)
        return rt
