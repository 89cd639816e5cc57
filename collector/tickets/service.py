"""Tickets (系统服务单): opening from faults, occurrences, recovery, and the timeline."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.tickets.models import ACTIVE_STATUSES, Ticket, TicketEvent
from collector.tickets.numbers import next_number
from collector.tickets.schemas import SEVERITY_LABELS

SYSTEM_ACTOR = "system"


def add_event(*, db: Session, ticket: Ticket, at: datetime, actor: str, kind: str, text: str = "",
              data: Optional[dict[str, Any]] = None) -> TicketEvent:
    event = TicketEvent(ticket_id=ticket.id, at=at, actor=actor, kind=kind, text=text, data=data or {})
    db.add(event)
    return event


def active_for_fault(*, db: Session, fault_key: str) -> Optional[Ticket]:
    return db.scalar(sa.select(Ticket).where(Ticket.active_fault_key == fault_key))


def last_for_fault(*, db: Session, fault_key: str) -> Optional[Ticket]:
    return db.scalar(sa.select(Ticket).where(Ticket.fault_key == fault_key).order_by(Ticket.id.desc()).limit(1))


def open_for_fault(*, db: Session, fault_key: str, at: datetime, number_prefix: str, tz: str,
                   fields: dict[str, Any], known_inactive: bool = False) -> tuple[Ticket, bool]:
    """Open the fault's ticket, or return the one already active (also when another collector
    process opened it a moment ago: the unique active_fault_key decides). Returns (ticket, created).
    `known_inactive`: the caller has just looked (ingest does, for the whole batch), skip the query."""
    if not known_inactive:
        existing = active_for_fault(db=db, fault_key=fault_key)
        if existing is not None:
            return existing, False
    previous = db.execute(sa.select(Ticket.id, Ticket.number).where(Ticket.fault_key == fault_key)
                          .order_by(Ticket.id.desc()).limit(1)).first()
    try:
        # The number is drawn inside the savepoint: a lost race rolls the counter back with the
        # ticket, so the month's numbers stay without gaps (FW-202611-0007 is never missing).
        with db.begin_nested():
            ticket = Ticket(number=next_number(db=db, prefix=number_prefix, at=at, tz=tz), fault_key=fault_key,
                            active_fault_key=fault_key, status="open", opened_at=at, reported_at=at,
                            last_occurrence_at=at, occurrences=1,
                            previous_ticket_id=previous.id if previous else None, **fields)
            db.add(ticket)
            db.flush()
    except IntegrityError:
        # Lost the race to another process: the database kept exactly one active ticket.
        existing = active_for_fault(db=db, fault_key=fault_key)
        if existing is None:
            raise
        return existing, False
    text = ticket.description
    if previous is not None:
        text += f"\n(同一故障的上一张服务单: {previous.number})"
    add_event(db=db, ticket=ticket, at=at, actor=SYSTEM_ACTOR, kind="opened", text=text,
              data={"previous": previous.number if previous else None})
    return ticket, True


def add_occurrence(*, db: Session, ticket: Ticket, at: datetime, status: int, summary: str,
                   severity: Optional[str] = None) -> None:
    ticket.occurrences += 1
    if at > ticket.last_occurrence_at:
        ticket.last_occurrence_at = at
        ticket.last_status = status
        ticket.last_summary = summary
    if ticket.recovered_at is not None:
        ticket.recovered_at = None
    if severity == "critical" and ticket.severity != "critical":
        add_event(db=db, ticket=ticket, at=at, actor=SYSTEM_ACTOR, kind="severity",
                  text=f"严重程度升级: {SEVERITY_LABELS.get(ticket.severity, ticket.severity)} → 严重")
        ticket.severity = "critical"


def resolve_recovered(*, db: Session, ticket: Ticket, at: datetime, note: str) -> None:
    """Automatic resolution when the check returns to OK."""
    ticket.status = "resolved"
    ticket.resolved_at = at
    ticket.recovered_at = at
    ticket.active_fault_key = None
    if not ticket.resolution:
        ticket.resolution = note
    ticket.version += 1
    add_event(db=db, ticket=ticket, at=at, actor=SYSTEM_ACTOR, kind="resolved", text=note)


def mark_recovered(*, db: Session, ticket: Ticket, at: datetime, note: str) -> None:
    """The fault cleared but the rule wants an engineer to confirm: keep it active, note it."""
    if ticket.recovered_at is None:
        ticket.recovered_at = at
        add_event(db=db, ticket=ticket, at=at, actor=SYSTEM_ACTOR, kind="recovered",
                  text=note + " (已恢复, 待工程师确认)")


def is_active(ticket: Ticket) -> bool:
    return ticket.status in ACTIVE_STATUSES


def get(*, db: Session, ticket_id: int) -> Optional[Ticket]:
    return db.get(Ticket, ticket_id)


def get_for_update(*, db: Session, ticket_id: int) -> Optional[Ticket]:
    """Row-locked on PostgreSQL so two engineers' changes apply one after the other."""
    return db.scalar(sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update())


def list_tickets(*, db: Session, status: Optional[str] = None, host: Optional[str] = None,
                 unit: Optional[str] = None, system: Optional[str] = None, before_id: Optional[int] = None,
                 limit: int = 100) -> list[Ticket]:
    q = sa.select(Ticket).order_by(Ticket.id.desc()).limit(limit)
    if status:
        q = q.where(Ticket.status == status)
    if host:
        q = q.where(Ticket.host == host)
    if unit:
        q = q.where(Ticket.customer_unit == unit)
    if system:
        q = q.where(Ticket.system == system)
    if before_id is not None:
        q = q.where(Ticket.id < before_id)
    return list(db.scalars(q))


def timeline(*, db: Session, ticket_id: int) -> list[TicketEvent]:
    return list(db.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                           .order_by(TicketEvent.at, TicketEvent.id)))


def actor_names(*, db: Session, events: list[TicketEvent]) -> dict[str, str]:
    """Display names of the events' actors (张伟 for zhangwei); the collector itself is 系统."""
    from collector.users.models import User

    logins = {e.actor for e in events} - {SYSTEM_ACTOR}
    q = sa.select(User.name, User.display_name).where(User.name.in_(logins))
    names = {name: shown for name, shown in db.execute(q)} if logins else {}
    return {SYSTEM_ACTOR: "系统", **{k: v for k, v in names.items() if v}}
