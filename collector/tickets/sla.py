"""Ticket ↔ SLA clocks: due times at opening, the response verdict, pauses while pending."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from collector.runtime import Runtime
from collector.sla import response_target, sla_state
from collector.sla.clock import add_clock_time, add_working_time
from collector.sla.policy import ResponseTarget
from collector.tickets.models import Ticket
from collector.timefmt import parse_iso

Pause = tuple[datetime, Optional[datetime]]


def pauses_of(ticket: Ticket) -> list[Pause]:
    out: list[Pause] = []
    for start, end in ticket.pauses or []:
        out.append((parse_iso(start), parse_iso(end) if end else None))
    return out


def target_of(ticket: Ticket, rt: Runtime) -> ResponseTarget:
    return response_target(rt.policy, rt.calendar, channel=ticket.channel, urgent=ticket.urgent,
                           severity=_sla_severity(ticket) if ticket.channel == "auto" else None,
                           reported_at=ticket.reported_at)


def _sla_severity(ticket: Ticket) -> str | None:
    """The SLA policy maps Nagios-like severities; an "info" ticket has no rule and takes targets.auto."""
    return ticket.severity if ticket.severity in ("critical", "warning", "unknown") else None


def set_due(ticket: Ticket, rt: Runtime, now: datetime) -> None:
    """(Re)compute response_due_at from the ticket's channel, urgency, severity and pauses."""
    target = target_of(ticket, rt)
    add = add_working_time if target.working else add_clock_time
    ticket.response_due_at = add(ticket.reported_at, target.duration, pauses=pauses_of(ticket), now=now,
                                 calendar=rt.calendar)
    # Marked so nobody takes it for the contract's clock: a year without holiday data counts Mon–Fri.
    ticket.calendar_fallback = rt.calendar.on_fallback(ticket.reported_at, ticket.response_due_at)


def record_response(ticket: Ticket, at: datetime) -> None:
    """The first response (acknowledgement, or resolution without one) decides met or breached."""
    if ticket.acknowledged_at is None:
        ticket.acknowledged_at = at
    if ticket.response_sla in (None, "due_soon") and ticket.response_due_at is not None:
        ticket.response_sla = "met" if ticket.acknowledged_at <= ticket.response_due_at else "breached"


def state_now(ticket: Ticket, rt: Runtime, now: datetime) -> str:
    """met | breached | pending | due_soon, for display and the SLA job."""
    if ticket.response_due_at is None:
        return "pending"
    return sla_state(rt.policy, rt.calendar, due_at=ticket.response_due_at, responded_at=ticket.acknowledged_at,
                     now=now, pauses=pauses_of(ticket), target=target_of(ticket, rt))
