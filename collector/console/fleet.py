"""Read models for the dashboard and host pages: worst status per host and system, disk usage, the
open tickets ordered by their SLA, and disk history for charts."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from checks.model import Status
from checks.thresholds import evaluate
from collector.hosts.models import Host
from collector.results.models import CheckState, ResultRow
from collector.rollups.models import ResultRollup
from collector.runtime import Runtime
from collector.tickets.deadlines import state_now
from collector.tickets.models import ACTIVE_STATUSES, Ticket
from collector.timefmt import zone


def _rank(status: Optional[int]) -> int:
    """checks.model's order for 'worst' (CRITICAL > WARNING > UNKNOWN > OK); -1 for a value not a status."""
    try:
        return Status(status).severity
    except ValueError:
        return -1


@dataclass
class Disk:
    mount: str
    used: float  # percent
    level: str  # ok | warn | crit


@dataclass
class HostRow:
    host: Host
    worst: dict[str, int] = field(default_factory=dict)  # system -> status
    disks: list[Disk] = field(default_factory=list)
    checks: int = 0

    @property
    def overall(self) -> Optional[int]:
        if not self.worst:
            return None
        return max(self.worst.values(), key=_rank)


@dataclass
class UnitGroup:
    unit: str
    hosts: list[HostRow]

    @property
    def offline(self) -> int:
        return sum(1 for h in self.hosts if not h.host.online)


def _worse(a: Optional[int], b: int) -> int:
    return b if a is None or _rank(b) > _rank(a) else a


def disks_of(metrics: Any) -> list[Disk]:
    out = []
    for m in metrics or []:
        measure, _, mount = str(m.get("name", "")).partition(":")
        if measure == "used_percent" and mount and isinstance(m.get("value"), (int, float)):
            used = float(m["value"])
            out.append(Disk(mount=mount, used=used, level=_level(used, m.get("warn"), m.get("crit"))))
    return out


def _level(used: float, warn: Optional[str], crit: Optional[str]) -> str:
    try:
        status = evaluate(used, warn, crit) if (warn or crit) else None
    except (ValueError, TypeError):
        status = None
    if status is None:
        return "crit" if used >= 90 else "warn" if used >= 80 else "ok"
    return {Status.OK: "ok", Status.WARNING: "warn"}.get(status, "crit")


def host_rows(*, db: Session) -> list[UnitGroup]:
    hosts = list(db.scalars(sa.select(Host).order_by(Host.unit, Host.name)))
    rows = {h.id: HostRow(host=h) for h in hosts}
    # Columns, not ORM rows, and metrics of disk checks only: the dashboard reads the whole fleet.
    cols = (CheckState.host_id, CheckState.system, CheckState.status, CheckState.type)
    for host_id, system, status, _ in db.execute(sa.select(*cols)):
        row = rows.get(host_id)
        if row is not None:
            row.checks += 1
            row.worst[system] = _worse(row.worst.get(system), status)
    disk_q = sa.select(CheckState.host_id, CheckState.metrics).where(CheckState.type == "disk")
    for host_id, metrics in db.execute(disk_q.order_by(CheckState.host_id, CheckState.check)):
        if host_id in rows:
            rows[host_id].disks.extend(disks_of(metrics))
    groups: dict[str, list[HostRow]] = defaultdict(list)
    for h in hosts:
        groups[h.unit or "未分配单位"].append(rows[h.id])
    return [UnitGroup(unit=u, hosts=hs) for u, hs in groups.items()]


TICKET_COLUMNS = (Ticket.id, Ticket.number, Ticket.urgent, Ticket.title, Ticket.customer_unit, Ticket.host,
                  Ticket.system, Ticket.status, Ticket.channel, Ticket.severity, Ticket.reported_at,
                  Ticket.response_due_at, Ticket.acknowledged_at, Ticket.response_sla, Ticket.pauses,
                  Ticket.window_id, Ticket.window_kind, Ticket.window_ends_at)  # the 7×24 window: the due rule


@dataclass
class OpenTicket:
    ticket: Any  # a row of TICKET_COLUMNS (read like a Ticket)
    sla: str  # met | breached | due_soon | pending | paused
    remaining: Optional[timedelta]  # until response_due_at (negative when late); None once answered


def open_tickets(*, db: Session, rt: Runtime, now: datetime, limit: int = 200) -> list[OpenTicket]:
    """Active tickets, breached first, then by the time left to respond."""
    # Rows of the columns the list and the SLA state read, not ORM objects: with hundreds of active tickets
    # building objects (and decoding the other JSON columns) was most of the dashboard's time.
    q = (sa.select(*TICKET_COLUMNS).where(Ticket.status.in_(ACTIVE_STATUSES))
         .order_by(Ticket.id.desc()).limit(limit))
    out = []
    for t in db.execute(q):
        if t.status == "pending":
            sla, remaining = "paused", None
        elif t.acknowledged_at is not None:
            sla, remaining = t.response_sla or "met", None
        else:
            sla = state_now(t, rt, now)
            remaining = t.response_due_at - now if t.response_due_at else None
        out.append(OpenTicket(ticket=t, sla=sla, remaining=remaining))
    rank = {"breached": 0, "due_soon": 1, "pending": 2, "met": 3, "paused": 4}
    far = timedelta(days=3650)
    out.sort(key=lambda o: (rank.get(o.sla, 5), o.remaining if o.remaining is not None else far, -o.ticket.id))
    return out


def host_states(*, db: Session, host_id: int) -> list[CheckState]:
    return list(db.scalars(sa.select(CheckState).where(CheckState.host_id == host_id)
                           .order_by(CheckState.system, CheckState.check)))


RAW_DAYS = 2  # beyond this, history comes from the daily rollups (raw results expire after retention_days)


def disk_history(*, db: Session, host_id: int, since: datetime, now: datetime, tz: str,
                 max_rows: int = 50000) -> dict[str, list[tuple[datetime, float]]]:
    """used_percent per mount over time (oldest first): raw disk results for the last RAW_DAYS, the
    daily peak from result_rollups before that."""
    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    raw_since = max(since, now - timedelta(days=RAW_DAYS)) if (now - since) > timedelta(days=7) else since
    if raw_since > since:
        _rollup_points(db, host_id, since, raw_since, tz, series)
    q = (sa.select(ResultRow.started_at, ResultRow.metrics)
         .where(ResultRow.host_id == host_id, ResultRow.type == "disk", ResultRow.started_at >= raw_since)
         .order_by(ResultRow.started_at.desc()).limit(max_rows))
    for at, metrics in db.execute(q):
        for m in metrics or []:
            measure, _, mount = str(m.get("name", "")).partition(":")
            if measure == "used_percent" and mount and isinstance(m.get("value"), (int, float)):
                series[mount].append((at, float(m["value"])))
    return {mount: sorted(points) for mount, points in sorted(series.items())}


def _rollup_points(db: Session, host_id: int, since: datetime, until: datetime, tz: str,
                   series: dict[str, list[tuple[datetime, float]]]) -> None:
    local = zone(tz)
    first, last = since.astimezone(local).date(), until.astimezone(local).date()
    q = (sa.select(ResultRollup.day, ResultRollup.disk)
         .where(ResultRollup.host_id == host_id, ResultRollup.type == "disk", ResultRollup.day >= first,
                ResultRollup.day < last))
    for day, disk in db.execute(q):
        at = datetime.combine(day, time(12), tzinfo=local)  # one point per day, at noon
        for mount, values in (disk or {}).items():
            peak = values.get("used_percent_max")
            if isinstance(peak, (int, float)):
                series[mount].append((at, float(peak)))
