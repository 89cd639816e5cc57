"""SLA timers, checked on time (not only when someone looks): due soon and breached are announced once
and breaches escalated."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from alerts.notify import Notification
from collector.notifications import service as notifications
from collector.runtime import Runtime
from collector.tickets import service
from collector.tickets.deadlines import state_now
from collector.tickets.models import Ticket
from collector.timefmt import text_time


def check_sla(*, db: Session, rt: Runtime, now: datetime) -> dict[str, int]:
    counts = {"due_soon": 0, "breached": 0}
    q = sa.select(Ticket).where(Ticket.status.in_(("open", "pending")), Ticket.acknowledged_at.is_(None),
                                Ticket.response_due_at.is_not(None))
    for t in db.scalars(q):
        state = state_now(t, rt, now)
        if state == "due_soon" and t.due_soon_at is None:
            t.due_soon_at = now
            counts["due_soon"] += 1
            service.add_event(db=db, ticket=t, at=now, actor="system", kind="sla_due_soon",
                              text=f"响应时限将至: {_local(t.response_due_at, rt)}")
            _announce(db, rt, t, now, "sla_due_soon", f"{t.number} 即将超过响应时限 ({_local(t.response_due_at, rt)})")
        elif state == "breached" and t.response_sla != "breached":
            t.response_sla = "breached"
            t.escalated_at = now
            counts["breached"] += 1
            service.add_event(db=db, ticket=t, at=now, actor="system", kind="escalated",
                              text=f"超过响应时限 {_local(t.response_due_at, rt)} 未响应, 已升级")
            _announce(db, rt, t, now, "sla_breached",
                      f"{t.number} 已超过响应时限 ({_local(t.response_due_at, rt)}), 请立即处理")
    return counts


def _local(dt: datetime | None, rt: Runtime) -> str:
    return text_time(dt, rt.calendar.tz)


def _announce(db: Session, rt: Runtime, t: Ticket, now: datetime, kind: str, title: str) -> None:
    notifications.enqueue(db=db, config=rt.notify, now=now, ticket_id=t.id, dedup_key=f"{kind}:{t.number}",
                          notification=Notification(kind=kind, title=title, text=t.description,
                                                    severity="critical" if kind == "sla_breached" else "warning",
                                                    unit=t.customer_unit, system=t.system, host=t.host,
                                                    ticket_no=t.number))
