"""Work that crosses domains: a fault's signal → ticket → maintenance → notification.

Called by ingest (collector.ingest.evaluate, collector.ingest.batch), the Alertmanager receiver and the
offline job.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from alerts.rules import agent_fault_key
from collector.config import Settings
from collector.hosts.models import Host
from collector.runtime import runtime
from collector.tickets import service as tickets
from collector.tickets import workflow
from collector.tickets.models import Ticket


@dataclass
class TicketChanges:
    opened: list[Ticket]
    resolved: list[Ticket]


def agent_back(*, db: Session, host: Host, now: datetime, settings: Settings, changes: TicketChanges) -> None:
    ticket = tickets.active_for_fault(db=db, fault_key=agent_fault_key(host.name))
    if ticket is not None:
        tickets.resolve_recovered(db=db, ticket=ticket, at=now, note=f"巡检代理 {host.name} 已恢复上报")
        workflow.announce_resolved(db=db, rt=runtime(settings, db), ticket=ticket, now=now)
        changes.resolved.append(ticket)
