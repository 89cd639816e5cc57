"""Ticket ↔ SLA clocks: due times at opening, the response verdict, pauses while pending."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from collector.runtime import Runtime
from collector.sla import WorkCalendar, response_target, sla_state
from collector.sla.clock import add_clock_time, add_window_time, add_working_time
from collector.sla.policy import WINDOW_KIND_ZH, ResponseTarget, SlaPolicy, window_target
from collector.tickets.models import Ticket
from collector.timefmt import parse_iso

Pause = tuple[datetime, Optional[datetime]]


def pauses_of(ticket: Ticket) -> list[Pause]:
    out: list[Pause] = []
    for start, end in ticket.pauses or []:
        out.append((parse_iso(start), parse_iso(end) if end else None))
    return out


def target_of(ticket: Ticket, rt: Runtime, now: datetime | None = None) -> ResponseTarget:
    """The target the ticket's due time was computed on (a 7×24 window's when that one decided)."""
    return deadline(ticket, rt.policy, rt.calendar, now=now)[1]


def _normal_target(ticket: Ticket, policy: SlaPolicy, calendar: WorkCalendar) -> ResponseTarget:
    return response_target(policy, calendar, channel=ticket.channel, urgent=ticket.urgent,
                           severity=_sla_severity(ticket) if ticket.channel == "auto" else None,
                           reported_at=ticket.reported_at)


def _sla_severity(ticket: Ticket) -> str | None:
    """The SLA policy maps Nagios-like severities; an "info" ticket has no rule and takes targets.auto."""
    return ticket.severity if ticket.severity in ("critical", "warning", "unknown") else None


def deadline(ticket: Ticket, policy: SlaPolicy, calendar: WorkCalendar, *, now: datetime | None
             ) -> tuple[datetime, ResponseTarget, bool]:
    """(due time, target, decided by a 7×24 window). A case reported inside a window gets the sooner of
    its usual due time and the window's (clock hours until the window ends, working hours after): a
    window can only bring the promise forward."""
    pauses = pauses_of(ticket)
    target = _normal_target(ticket, policy, calendar)
    add = add_working_time if target.working else add_clock_time
    due = add(ticket.reported_at, target.duration, pauses=pauses, now=now, calendar=calendar)
    if ticket.window_id is None or ticket.window_ends_at is None:
        return due, target, False
    wtarget = window_target(policy, channel=ticket.channel, urgent=ticket.urgent,
                            severity=_sla_severity(ticket) if ticket.channel == "auto" else None,
                            kind=ticket.window_kind)
    wdue = add_window_time(ticket.reported_at, wtarget.duration, window_end=ticket.window_ends_at,
                           pauses=pauses, now=now, calendar=calendar)
    if wdue <= due:
        return wdue, wtarget, True
    return due, target, False


def set_due(ticket: Ticket, rt: Runtime, now: datetime) -> None:
    """(Re)compute response_due_at from the ticket's channel, urgency, severity, 7×24 window and pauses."""
    ticket.response_due_at = deadline(ticket, rt.policy, rt.calendar, now=now)[0]
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
                     now=now, pauses=pauses_of(ticket), target=target_of(ticket, rt, now))


def response_clock(ticket: Ticket, policy: SlaPolicy, calendar: WorkCalendar, now: datetime | None = None) -> str:
    """What the response deadline counts, for the ticket page, the API and the report: 工作时间, 7×24
    (urgent outside working time), 7×24（系统升级窗口） — or nothing for a case handed to another department."""
    if ticket.status == "handed_off":
        return "不计（已转交）"
    _due, target, by_window = deadline(ticket, policy, calendar, now=now)
    if by_window:
        return f"7×24（{WINDOW_KIND_ZH.get(ticket.window_kind, ticket.window_kind)}窗口）"
    return "工作时间" if target.working else "7×24"
