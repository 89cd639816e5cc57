"""Rules over a batch's new results: check states advance, and what alerts.rules decides for a fault goes
to the one cross-domain flow (collector.flows: maintenance, ticket, notification).

Per batch: the states of the batch's checks and which of their faults have an active ticket arrive
with the insert (collector.ingest.store); ORM tickets are loaded only for active faults, maintenance
windows only when a ticket would open, and one upsert writes all changed states.
Results of a check are taken in time order; a late, older result is stored but does not rewind the state.
A quiet check (no active ticket, every new result OK) skips the result-by-result loop: only its state moves on.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Optional, Protocol

import sqlalchemy as sa

from alerts.rules import Action, RuleConfig, check_fault_key, decide
from checks.model import Status
from collector.config import Settings
from collector.flows import Flow
from collector.ingest import states as state_rows
from collector.ingest.records import Rec
from collector.ingest.states import States
from collector.ingest.tx import Tx
from collector.tickets.models import Ticket


class HostLike(Protocol):
    id: int
    name: str
    unit: str
    room: str
    labels: Any


def rule_config(settings: Settings) -> RuleConfig:
    t = settings.tickets
    return RuleConfig(consecutive_bad=t.consecutive_bad, recover_after=t.recover_after, auto_resolve=t.auto_resolve)


def fault_keys(host_name: str, recs: list[Rec]) -> dict[str, str]:
    """Each check of the batch with the fault key under which its ticket is opened."""
    return {check: check_fault_key(host_name, check) for check in {r.check for r in recs}}


def evaluate(*, tx: Tx, host: HostLike, fresh: list[Rec], faults: dict[str, str], states: States, found: set[str],
             now: datetime, settings: Settings,
             save_later: Optional[list[dict[str, Any]]] = None) -> int:
    """Apply the rules to `fresh` (results not stored before), given the states of the batch's checks and
    which of their `faults` have an active ticket; returns how many a maintenance window hid.
    The changed states are saved at the end, or added to `save_later` for the caller to save (with other
    batches' in one statement: collector.ingest.pg_group)."""
    if not fresh:
        return 0
    by_check: dict[str, list[Rec]] = defaultdict(list)
    for r in fresh:
        by_check[r.check].append(r)
    active = {t.active_fault_key: t for t in tx.db.scalars(
        sa.select(Ticket).where(Ticket.active_fault_key.in_(list(found))))} if found else {}
    config = rule_config(settings)
    flow: Optional[Flow] = None  # made at the first action: a quiet batch needs no ORM session
    dirty: list[dict[str, Any]] = []
    suppressed = 0
    for check, items in by_check.items():
        items.sort(key=lambda r: r.started_at)
        state = states.get(check)
        fault = faults[check]
        ticket = active.get(fault)
        before = state
        # in the results' own offset: aware datetimes with the same tzinfo object compare cheaply
        last = None if state is None else state["last_started_at"].astimezone(items[0].started_at.tzinfo)
        if last is not None and items[0].started_at <= last:  # late, older results (sorted: a prefix) are
            items = [r for r in items if r.started_at > last]  # stored, but they do not rewind the state
        if ticket is None and items and all(r.status is Status.OK for r in items):
            # the common case, no ticket and nothing wrong: only the state moves on
            dirty.append(_advance_quiet(state, host.id, items))
            continue
        for r in items:
            if state is not None and state is before:
                state = dict(state)  # copied once per check: the loaded state stays as it was
            state = _advance(state, host.id, r)
            d = decide(status=r.status, consecutive_bad=state["consecutive_bad"],
                       consecutive_ok=state["consecutive_ok"], ticket_active=ticket is not None, config=config)
            state["consecutive_bad"] = d.consecutive_bad
            state["consecutive_ok"] = d.consecutive_ok
            if d.action == Action.NONE:
                continue
            if flow is None:
                flow = Flow(db=tx.db, settings=settings, now=now)
            if d.action == Action.OPEN:
                span = (min(x.started_at for x in fresh), max(x.started_at for x in fresh))
                if flow.maintenance(span=span, at=r.started_at, unit=host.unit, host=host.name, system=r.system):
                    suppressed += 1
                    state["consecutive_bad"] = 0  # the ticket opens when the fault persists after the window
                    continue
                ticket, created = flow.open(fault_key=fault, at=r.started_at, fields=auto_fields(host, r, d.severity),
                                            known_inactive=fault not in found)
                if not created:
                    flow.occurrence(ticket, at=r.started_at, status=int(r.status), summary=r.summary,
                                    severity=d.severity)
            elif d.action == Action.OCCURRENCE and ticket is not None:
                flow.occurrence(ticket, at=r.started_at, status=int(r.status), summary=r.summary,
                                severity=d.severity)
            elif d.action == Action.RESOLVE and ticket is not None:
                flow.resolve(ticket, at=r.started_at, note=f"检查 {check} 已恢复正常: {r.summary}")
                ticket = None
            elif d.action == Action.RECOVERED and ticket is not None:
                flow.recovered(ticket, at=r.started_at, note=f"检查 {check} 已恢复正常: {r.summary}")
        if state is not None and state is not before:
            dirty.append(state)
    if save_later is not None:
        save_later.extend(dirty)
    elif dirty:
        tx.flush()  # tickets first (ORM), then the states in one statement
        state_rows.save(tx, dirty)
    return suppressed


def _advance_quiet(state: Optional[dict[str, Any]], host_id: int, quiet: list[Rec]) -> dict[str, Any]:
    """The state after OK results `quiet` while no ticket is active: what the rule loop leaves, whose every
    decision would be "nothing", each OK adding one to consecutive_ok (only the first can change status)."""
    ok = 0 if state is None else state["consecutive_ok"]
    state = _advance(None if state is None else dict(state), host_id, quiet[0])
    if len(quiet) > 1:
        _advance(state, host_id, quiet[-1])
    state["consecutive_bad"] = 0
    state["consecutive_ok"] = ok + len(quiet)
    return state


def _advance(state: Optional[dict[str, Any]], host_id: int, r: Rec) -> dict[str, Any]:
    """The state after `r`, updated in place (the caller passes a copy of the loaded state, so that
    changed states can be told from untouched ones)."""
    status = int(r.status)
    if state is None:
        return {"host_id": host_id, "check": r.check, "type": r.type, "system": r.system, "status": status,
                "summary": r.summary, "metrics": r.metrics_json, "last_result_id": r.id,
                "last_started_at": r.started_at, "consecutive_bad": 0, "consecutive_ok": 0, "status_changes": 0,
                "since": r.started_at}
    if state["status"] != status:
        state["status_changes"] += 1
        state["since"] = r.started_at
    state.update(status=status, type=r.type, system=r.system, summary=r.summary, metrics=r.metrics_json,
                 last_result_id=r.id, last_started_at=r.started_at)
    return state  # consecutive_bad is the rules' business: set from their decision


def auto_fields(host: HostLike, r: Any, severity: str) -> dict[str, Any]:
    return {
        "source": "check", "channel": "auto", "severity": severity, "urgent": False, "system": r.system,
        "host_id": host.id, "host": host.name, "check": r.check,
        "title": f"{host.name} {r.check}: {r.status.label_zh}"[:300],
        "description": f"自动巡检发现异常: 主机 {host.name} 检查 {r.check} 状态 {r.status.label_zh} — {r.summary}",
        "customer_unit": host.unit, "room": host.room, "last_status": int(r.status),
        "last_summary": r.summary, "labels": dict(host.labels or {}),
    }
