"""7×24 support windows (故障处理 / 系统升级): which cases they cover and how their due times follow.

A case reported inside a window is linked to it (tickets.window_*); collector.tickets.deadlines then counts
its response deadline on clock hours until the window ends. Opening a window that began earlier, or
closing one early, recomputes the due time of the cases it covers that nobody has responded to yet,
each with a timeline entry."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.runtime import Runtime
from collector.sla.policy import WINDOW_KIND_ZH
from collector.tickets import service as tickets
from collector.tickets.deadlines import set_due
from collector.tickets.models import ACTIVE_STATUSES, SupportWindow, Ticket
from collector.timefmt import text_time

KINDS = tuple(WINDOW_KIND_ZH)  # incident | upgrade


class WindowError(ValueError):
    """A window the rules refuse (message in Chinese, for users)."""


def create(*, db: Session, rt: Runtime, kind: str, title: str, starts_at: datetime, ends_at: datetime,
           unit: str = "", host: str = "", system: str = "", actor: str, now: datetime) -> SupportWindow:
    if kind not in KINDS:
        raise WindowError(f"窗口类型须为 {'/'.join(WINDOW_KIND_ZH.values())}")
    if ends_at <= starts_at:
        raise WindowError("结束时间必须晚于开始时间")
    w = SupportWindow(kind=kind, title=title, unit=unit, host=host, system=system, starts_at=starts_at,
                      ends_at=ends_at, created_by=actor, created_at=now, closed_by="")
    db.add(w)
    db.flush()
    # Cases already reported since the window's start (an incident declared after the first calls) and
    # not answered yet; an answered case keeps the due time its answer was judged by.
    q = sa.select(Ticket).where(Ticket.status.in_(ACTIVE_STATUSES), Ticket.window_id.is_(None),
                                Ticket.acknowledged_at.is_(None), Ticket.reported_at >= starts_at,
                                Ticket.reported_at < ends_at)
    for t in db.scalars(q.order_by(Ticket.id)):
        if covers(w, at=t.reported_at, unit=t.customer_unit, host=t.host, system=t.system):
            _link(t, w)
            _follow(db, rt, t, now, actor, f"纳入{label(w)}")
    return w


def close(*, db: Session, rt: Runtime, window: SupportWindow, actor: str, now: datetime) -> None:
    """End the window now (if it has not ended already); the cases it covers follow the new end."""
    if window.closed_at is not None:
        raise WindowError("该窗口已关闭")
    window.closed_at, window.closed_by = now, actor
    if window.ends_at <= now:
        return
    window.ends_at = max(now, window.starts_at)
    # Only unanswered cases follow; an answered one keeps the due time its answer was judged by.
    q = sa.select(Ticket).where(Ticket.window_id == window.id, Ticket.status.in_(ACTIVE_STATUSES),
                                Ticket.acknowledged_at.is_(None))
    for t in db.scalars(q.order_by(Ticket.id)):
        t.window_ends_at = window.ends_at
        _follow(db, rt, t, now, actor, f"{label(window)}提前结束")


def attach(*, db: Session, ticket: Ticket) -> None:
    """Link a case to the window its call time falls in (or unlink it): before its due time is set."""
    w = covering(db=db, at=ticket.reported_at, unit=ticket.customer_unit, host=ticket.host, system=ticket.system)
    if w is None:
        ticket.window_id, ticket.window_kind, ticket.window_ends_at = None, "", None
    else:
        _link(ticket, w)


def covers(w: SupportWindow, *, at: datetime, unit: str, host: str, system: str) -> bool:
    return (w.starts_at <= at < w.ends_at and (not w.unit or w.unit == unit) and (not w.host or w.host == host)
            and (not w.system or w.system == system))


# built once: every ticket ingest opens asks (attach), and building the statement cost more than running it
_COVERING = (sa.select(SupportWindow).where(SupportWindow.starts_at <= sa.bindparam("at"),
                                            SupportWindow.ends_at > sa.bindparam("at"))
             .order_by(SupportWindow.id))


def covering(*, db: Session, at: datetime, unit: str, host: str, system: str) -> Optional[SupportWindow]:
    for w in db.scalars(_COVERING, {"at": at}):
        if covers(w, at=at, unit=unit, host=host, system=system):
            return w
    return None


def list_windows(*, db: Session, limit: int = 200) -> list[SupportWindow]:
    return list(db.scalars(sa.select(SupportWindow).order_by(SupportWindow.starts_at.desc(), SupportWindow.id.desc())
                           .limit(limit)))


def label(w: SupportWindow) -> str:
    return f"7×24{WINDOW_KIND_ZH.get(w.kind, w.kind)}窗口"


def _link(t: Ticket, w: SupportWindow) -> None:
    t.window_id, t.window_kind, t.window_ends_at = w.id, w.kind, w.ends_at


def _follow(db: Session, rt: Runtime, t: Ticket, now: datetime, actor: str, why: str) -> None:
    """Recompute a not yet answered case's due time and say so on its timeline."""
    if t.acknowledged_at is not None or t.response_due_at is None:
        return
    old = t.response_due_at
    set_due(t, rt, now)
    if t.response_due_at == old:
        return
    tz = rt.calendar.tz
    t.version += 1
    tickets.add_event(db=db, ticket=t, at=now, actor=actor, kind="window",
                      text=f"{why}: 响应时限 {text_time(old, tz)} → {text_time(t.response_due_at, tz)}",
                      data={"old_due": old.isoformat(), "new_due": t.response_due_at.isoformat()
                            if t.response_due_at else None, "window_id": t.window_id})
