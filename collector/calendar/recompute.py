"""Running clocks follow an import: due times recomputed, the reason on the timeline."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.calendar.models import CalendarImport
from collector.tickets import service as tickets
from collector.tickets.deadlines import set_due, state_now
from collector.tickets.models import ACTIVE_STATUSES, Ticket
from collector.timefmt import text_time


def _local(dt: datetime | None, rt: Any) -> str:
    return text_time(dt, rt.calendar.tz)


@dataclass
class ImportResult:
    row: Optional[CalendarImport] = None  # None when the fallback job recomputes, not an import
    recomputed: list[tuple[str, str, str]] = field(default_factory=list)  # (number, old due, new due)
    unbreached: list[str] = field(default_factory=list)  # ticket numbers no longer breached


def recompute(*, db: Session, rt: Any, years: set[int] | None, now: datetime, actor: str, reason: str,
              result: ImportResult, fallback_only: bool = False) -> None:
    """Every active ticket not yet responded to whose due time falls in `years` (local time; None: any),
    or, with `fallback_only`, whose due time was computed on the Mon–Fri fallback."""
    q = (sa.select(Ticket).where(Ticket.status.in_(ACTIVE_STATUSES), Ticket.acknowledged_at.is_(None),
                                 Ticket.response_due_at.is_not(None))
         .order_by(Ticket.id).with_for_update())
    if fallback_only:
        q = q.where(Ticket.calendar_fallback.is_(True))
    for t in db.scalars(q):
        old_due, old_fallback = t.response_due_at, t.calendar_fallback
        assert old_due is not None
        if years is not None and old_due.astimezone(rt.calendar.tz).year not in years:
            continue
        if fallback_only and rt.calendar.on_fallback(t.reported_at, old_due):
            continue  # still no data for its years: nothing better to compute
        set_due(t, rt, now)
        if t.response_due_at == old_due and t.calendar_fallback == old_fallback:
            continue
        text = f"{reason}: 响应时限 {_local(old_due, rt)} → {_local(t.response_due_at, rt)}"
        state = state_now(t, rt, now)
        if t.response_sla == "breached" and state != "breached":
            # Breached only because the year was missing: the verdict goes with the wrong due time.
            t.response_sla = None
            t.escalated_at = None
            text += ", 不再视为超时"
            result.unbreached.append(t.number)
        if t.due_soon_at is not None and state != "due_soon":
            t.due_soon_at = None  # announced for the wrong time: announce again when it really is near
        t.version += 1
        tickets.add_event(db=db, ticket=t, at=now, actor=actor, kind="calendar_recomputed", text=text,
                          data={"old_due": old_due.isoformat(), "new_due": t.response_due_at.isoformat()
                                if t.response_due_at else None, "calendar_fallback": t.calendar_fallback})
        result.recomputed.append((t.number, _local(old_due, rt), _local(t.response_due_at, rt)))
