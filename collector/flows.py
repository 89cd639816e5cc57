"""Work that crosses domains, in one place: ingest → store → rules → tickets."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from alerts.rules import Action, RuleConfig, check_fault_key, decide
from checks.model import Result
from collector.config import Settings
from collector.hosts import service as hosts
from collector.hosts.models import Host
from collector.maintenance import service as maintenance
from collector.results import service as results
from collector.results.models import CheckState
from collector.runtime import runtime
from collector.tickets import service as tickets
from collector.tickets import workflow
from collector.tickets.models import Ticket


@dataclass
class IngestReply:
    accepted: int
    duplicates: int
    suppressed: int = 0  # bad results inside a maintenance window: kept, no ticket

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": []}


@dataclass
class TicketChanges:
    opened: list[Ticket]
    resolved: list[Ticket]


def rule_config(settings: Settings) -> RuleConfig:
    t = settings.tickets
    return RuleConfig(consecutive_bad=t.consecutive_bad, recover_after=t.recover_after, auto_resolve=t.auto_resolve)


def ingest(*, db: Session, host: Host, agent: dict[str, Any], batch: list[Result], now: datetime,
           settings: Settings) -> tuple[IngestReply, TicketChanges]:
    """Store a validated batch for `host` and evaluate the rules on the results not seen before."""
    back_online = hosts.record_contact(db=db, host=host, at=now, agent=agent)
    changes = TicketChanges([], [])
    if back_online:
        from collector.jobs.offline import agent_back  # local import: the job module imports flows' peers

        agent_back(db=db, host=host, now=now, settings=settings, changes=changes)
    rows = [results.to_row(r, host.id, now) for r in batch]
    new_ids = results.insert_new(db=db, rows=rows)
    fresh = [r for r in batch if r.id in new_ids]
    seqs = [r.seq for r in fresh if r.seq is not None]
    if seqs:
        host.last_seq = max(max(seqs), host.last_seq or 0)
    suppressed = _evaluate(db=db, host=host, fresh=fresh, now=now, settings=settings, changes=changes)
    return IngestReply(accepted=len(fresh), duplicates=len(batch) - len(fresh), suppressed=suppressed), changes


def _evaluate(*, db: Session, host: Host, fresh: list[Result], now: datetime, settings: Settings,
              changes: TicketChanges) -> int:
    if not fresh:
        return 0
    by_check: dict[str, list[Result]] = defaultdict(list)
    for r in fresh:
        by_check[r.check].append(r)
    states = results.states_for(db=db, host_id=host.id, checks=list(by_check))
    config = rule_config(settings)
    rt = runtime(settings)
    windows = maintenance.overlapping(db=db, start=min(r.started_at for r in fresh),
                                      end=max(r.started_at for r in fresh))
    suppressed = 0
    for check, items in by_check.items():
        items.sort(key=lambda r: r.started_at)
        state = states.get(check)
        fault = check_fault_key(host.name, check)
        ticket = tickets.active_for_fault(db=db, fault_key=fault)
        for r in items:
            if state is not None and r.started_at <= state.last_started_at:
                continue  # a late, older result: stored, but it does not rewind the state
            state = _advance_state(db=db, state=state, host=host, r=r)
            d = decide(status=r.status, consecutive_bad=state.consecutive_bad, consecutive_ok=state.consecutive_ok,
                       ticket_active=ticket is not None, config=config)
            state.consecutive_bad = d.consecutive_bad
            state.consecutive_ok = d.consecutive_ok
            if d.action == Action.OPEN and maintenance.covering(windows, at=r.started_at, unit=host.unit,
                                                                host=host.name, system=r.system):
                suppressed += 1
                state.consecutive_bad = 0  # the ticket opens when the fault persists after the window
            elif d.action == Action.OPEN:
                ticket, created = tickets.open_for_fault(
                    db=db, fault_key=fault, at=r.started_at, number_prefix=settings.tickets.number_prefix,
                    tz=settings.timezone, fields=_auto_fields(host, r, d.severity))
                if created:
                    workflow.after_auto_open(db=db, rt=rt, ticket=ticket, now=now)
                    changes.opened.append(ticket)
                else:
                    tickets.add_occurrence(db=db, ticket=ticket, at=r.started_at, status=int(r.status),
                                           summary=r.summary, severity=d.severity)
            elif d.action == Action.OCCURRENCE and ticket is not None:
                tickets.add_occurrence(db=db, ticket=ticket, at=r.started_at, status=int(r.status),
                                       summary=r.summary, severity=d.severity)
            elif d.action == Action.RESOLVE and ticket is not None:
                tickets.resolve_recovered(db=db, ticket=ticket, at=r.started_at,
                                          note=f"检查 {check} 已恢复正常: {r.summary}")
                workflow.announce_resolved(db=db, rt=rt, ticket=ticket, now=now)
                changes.resolved.append(ticket)
                ticket = None
            elif d.action == Action.RECOVERED and ticket is not None:
                tickets.mark_recovered(db=db, ticket=ticket, at=r.started_at,
                                       note=f"检查 {check} 已恢复正常: {r.summary}")
    return suppressed


def _advance_state(*, db: Session, state: CheckState | None, host: Host, r: Result) -> CheckState:
    metrics = [m.to_dict() for m in r.metrics]
    if state is None:
        state = CheckState(host_id=host.id, check=r.check, type=r.type, system=r.system, status=int(r.status),
                           summary=r.summary, metrics=metrics, last_result_id=r.id,
                           last_started_at=r.started_at, consecutive_bad=0, consecutive_ok=0,
                           status_changes=0, since=r.started_at)
        db.add(state)
        return state
    if state.status != int(r.status):
        state.status_changes += 1
        state.since = r.started_at
    state.status = int(r.status)
    state.type = r.type
    state.system = r.system
    state.summary = r.summary
    state.metrics = metrics
    state.last_result_id = r.id
    state.last_started_at = r.started_at
    return state  # consecutive_bad is the rules' business: set from their decision


def _auto_fields(host: Host, r: Result, severity: str) -> dict[str, Any]:
    return {
        "source": "check", "channel": "auto", "severity": severity, "urgent": False, "system": r.system,
        "host_id": host.id, "host": host.name, "check": r.check,
        "title": f"{host.name} {r.check}: {r.status.label_zh}"[:300],
        "description": f"自动巡检发现异常: 主机 {host.name} 检查 {r.check} 状态 {r.status.label_zh} — {r.summary}",
        "customer_unit": host.unit, "room": host.room, "last_status": int(r.status),
        "last_summary": r.summary, "labels": dict(host.labels or {}),
    }
