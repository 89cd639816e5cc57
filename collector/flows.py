"""The one cross-domain flow: a fault's signal → maintenance → ticket → notification.

Who signals: ingest (collector.ingest.evaluate: the rules of alerts.rules decided on a check's results),
the Alertmanager receiver (collector.alertmanager.service) and the offline job (collector.jobs.offline).
They say *what* happened to a fault; `Flow` does the rest the same way for all: a maintenance window
covering the fault hides it, a ticket opens (or notes one more occurrence), resolves or is marked
recovered, and the outbox hears of openings and resolutions (collector.tickets.workflow).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy.orm import Session

from alerts.rules import agent_fault_key
from collector.config import Settings
from collector.hosts.models import Host
from collector.maintenance import service as maintenance
from collector.maintenance.models import MaintenanceWindow
from collector.runtime import Runtime, runtime
from collector.tickets import service as tickets
from collector.tickets import workflow
from collector.tickets.models import Ticket


class Flow:
    """The flow inside one transaction (`db`) at `now`; the tickets it opened are kept in `opened` (the
    offline job reports them)."""

    def __init__(self, *, db: Session, settings: Settings, now: datetime) -> None:
        self.db = db
        self.settings = settings
        self.now = now
        self.opened: list[Ticket] = []
        self._rt: Optional[Runtime] = None
        self._windows: dict[tuple[datetime, datetime], list[MaintenanceWindow]] = {}

    @property
    def rt(self) -> Runtime:
        if self._rt is None:  # the calendar is synced with the database once per flow, when first needed
            self._rt = runtime(self.settings, self.db)
        return self._rt

    def maintenance(self, *, span: tuple[datetime, datetime], at: datetime, unit: str, host: str,
                    system: str) -> Optional[MaintenanceWindow]:
        """The window covering the fault at `at`, if any; windows are loaded once per `span`."""
        windows = self._windows.get(span)
        if windows is None:
            windows = self._windows[span] = maintenance.overlapping(db=self.db, start=span[0], end=span[1])
        return maintenance.covering(windows, at=at, unit=unit, host=host, system=system)

    def open(self, *, fault_key: str, at: datetime, fields: dict[str, Any], known_inactive: bool = False,
             reported_at: Optional[datetime] = None) -> tuple[Ticket, bool]:
        """The fault's ticket: opened (its SLA clock started from `reported_at`, default `at`, and announced),
        or the one already active; (ticket, created)."""
        s = self.settings
        ticket, created = tickets.open_for_fault(db=self.db, fault_key=fault_key, at=at,
                                                 number_prefix=s.tickets.number_prefix, tz=s.timezone,
                                                 fields=fields, known_inactive=known_inactive)
        if created:
            if reported_at is not None:
                ticket.reported_at = reported_at
            workflow.after_auto_open(db=self.db, rt=self.rt, ticket=ticket, now=self.now)
            self.opened.append(ticket)
        return ticket, created

    def occurrence(self, ticket: Ticket, *, at: datetime, status: int, summary: str,
                   severity: Optional[str] = None) -> None:
        tickets.add_occurrence(db=self.db, ticket=ticket, at=at, status=status, summary=summary, severity=severity)

    def resolve(self, ticket: Ticket, *, at: datetime, note: str) -> None:
        """The fault is gone: the ticket resolves and the outbox hears of it."""
        tickets.resolve_recovered(db=self.db, ticket=ticket, at=at, note=note)
        workflow.announce_resolved(db=self.db, rt=self.rt, ticket=ticket, now=self.now)

    def recovered(self, ticket: Ticket, *, at: datetime, note: str) -> None:
        """The fault is gone but an engineer confirms: the ticket stays active, marked recovered."""
        tickets.mark_recovered(db=self.db, ticket=ticket, at=at, note=note)

    def agent_back(self, host: Host) -> None:
        """An offline host reported again: its "agent offline" ticket resolves."""
        ticket = tickets.active_for_fault(db=self.db, fault_key=agent_fault_key(host.name))
        if ticket is not None:
            self.resolve(ticket, at=self.now, note=f"巡检代理 {host.name} 已恢复上报")
