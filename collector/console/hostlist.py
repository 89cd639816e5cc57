"""The host list at fleet size: filters, search and paging done by the database, status per page only.

Status of a host is read from check_states: a host "has problems" when any of its checks (of the chosen
system, when one is chosen) is not OK. Only the page's hosts are then read in full (worst status per
system, disk bars), so a page costs the same with 100 or 10 000 hosts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from checks.model import SYSTEMS, Status
from collector.console.fleet import HostRow, _worse, disks_of
from collector.hosts.models import Host
from collector.results.models import CheckState

PAGE_SIZE = 50
NOT_OK = tuple(int(s) for s in Status if s != Status.OK)
# status filter -> label; "problem" = any check not OK, "crit" = any CRITICAL, "ok" = checks and all OK
STATUSES = {"online": "在线", "offline": "离线", "problem": "有异常", "crit": "有严重", "ok": "全部正常",
            "nochecks": "无检查结果"}


@dataclass
class HostFilters:
    unit: str = ""
    system: str = ""
    status: str = ""
    q: str = ""  # part of the name, unit or room


def clean(*, unit: str, system: str, status: str, q: str) -> HostFilters:
    """Values from the query string, kept only when meaningful (an odd value is dropped, never an error)."""
    def text(v: str, n: int) -> str:
        return "".join(c for c in v if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF).strip()[:n]

    return HostFilters(unit=text(unit, 128), system=system if system in SYSTEMS else "",
                       status=status if status in STATUSES else "", q=text(q, 64))


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def not_ok(states: Any) -> Any:
    """States whose status is not OK, as a list of codes: `status != 0` cannot use an index, `IN` can."""
    return states.where(CheckState.status.in_(NOT_OK))


def _query(f: HostFilters, dialect: str = "sqlite") -> Any:
    q = sa.select(Host)
    if f.unit:
        q = q.where(Host.unit == ("" if f.unit == "未分配单位" else f.unit))
    # uncorrelated IN lists: each is read once, not once per host (the count runs over the whole fleet)
    states = sa.select(CheckState.host_id)
    if f.system:
        states = states.where(CheckState.system == f.system)
    if f.system and f.status not in ("nochecks", "ok"):
        q = q.where(Host.id.in_(states))
    if f.status == "online":
        q = q.where(Host.online.is_(True))
    elif f.status == "offline":
        q = q.where(Host.online.is_(False))
    elif f.status == "problem":
        q = q.where(Host.id.in_(not_ok(states)))
    elif f.status == "crit":
        q = q.where(Host.id.in_(states.where(CheckState.status == int(Status.CRITICAL))))
    elif f.status == "ok":
        q = q.where(Host.id.in_(states), Host.id.not_in(not_ok(states)))
    elif f.status == "nochecks":
        q = q.where(Host.id.not_in(states))
    if f.q:
        like = f"%{_escape_like(f.q)}%"
        # SQLite's LIKE already ignores ASCII case; its ILIKE (lower() on both sides) took three times as long
        cols = (Host.name, Host.unit, Host.room)
        q = q.where(sa.or_(*(c.like(like, escape="\\") if dialect == "sqlite" else c.ilike(like, escape="\\")
                             for c in cols)))
    return q


def search(*, db: Session, f: HostFilters, page: int) -> tuple[list[HostRow], int]:
    q = _query(f, db.get_bind().dialect.name)
    total = db.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery())) or 0
    hosts = list(db.scalars(q.order_by(Host.unit, Host.name).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    return rows_for(db=db, hosts=hosts), total


def rows_for(*, db: Session, hosts: list[Host]) -> list[HostRow]:
    """Worst status per system and disk bars of these hosts only."""
    rows = {h.id: HostRow(host=h) for h in hosts}
    if not rows:
        return []
    # metrics (JSON to decode) of disk checks only: the bars are all this page shows of them
    metrics_of_disks = sa.case((CheckState.type == "disk", CheckState.metrics), else_=sa.null())
    cols = (CheckState.host_id, CheckState.system, CheckState.status, CheckState.type, metrics_of_disks)
    for host_id, system, status, typ, metrics in db.execute(
            sa.select(*cols).where(CheckState.host_id.in_(list(rows))).order_by(CheckState.host_id,
                                                                                 CheckState.check)):
        row = rows[host_id]
        row.checks += 1
        row.worst[system] = _worse(row.worst.get(system), status)
        if typ == "disk":
            row.disks.extend(disks_of(metrics))
    return [rows[h.id] for h in hosts]


def units(*, db: Session) -> list[str]:
    return [u or "未分配单位" for u in db.scalars(sa.select(Host.unit).distinct().order_by(Host.unit))]
