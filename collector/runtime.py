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
    report_mail: str = ""  # the e-mail channel that sends units their reports ('' = none configured)


_cache: dict[int, tuple[Settings, Runtime]] = {}
_lock = threading.Lock()


def runtime(settings: Settings, db: Optional[Session] = None) -> Runtime:
    rt = _build(settings)
    if db is not None:
        sync(db, rt.calendar)
    return rt


def report_mail(report: ReportSettings, notify: NotifyConfig) -> str:
    """The channel that mails units their reports: `report.mail_channel`, else the first e-mail
    channel; contacts without any e-mail channel are a configuration error, refused at start."""
    if report.mail_channel:
        channel = notify.channels.get(report.mail_channel)
        if channel is None or channel.type != "email":
            raise ValueError(f"report.mail_channel: {report.mail_channel!r} is not an e-mail channel "
                             "in notify.channels")
        return report.mail_channel
    name = next((n for n, c in notify.channels.items() if c.type == "email"), "")
    if report.contacts and not name:
        raise ValueError("report.contacts: needs an e-mail channel in notify.channels to send the reports")
    return name


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
        notify = build_notify(settings.notify or {})
        rt = Runtime(calendar=WorkCalendar.from_config(cal_cfg), policy=SlaPolicy.from_dict(sla),
                     notify=notify, report=settings.report, report_mail=report_mail(settings.report, notify))
        _cache[key] = (settings, rt)
        return rt
