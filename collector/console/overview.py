"""The dashboard's fleet figures counted by the database: totals and one line per customer unit.

With a small fleet the dashboard lists every host; beyond FULL_LIST it shows these per-unit lines and
only the hosts that need attention (offline or with a check not OK), up to ATTENTION_LIMIT, and the
host list page does the rest."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.console import hostlist
from collector.console.fleet import HostRow
from collector.hosts.models import Host
from collector.results.models import CheckState

FULL_LIST = 200
ATTENTION_LIMIT = 50


@dataclass
class UnitLine:
    unit: str
    hosts: int
    offline: int
    bad: int


def _bad_ids() -> sa.Select:
    return hostlist.not_ok(sa.select(CheckState.host_id))


def unit_lines(*, db: Session) -> list[UnitLine]:
    bad_q = sa.select(Host.unit, sa.func.count()).where(Host.id.in_(_bad_ids())).group_by(Host.unit)
    bad = dict(db.execute(bad_q).all())
    q = (sa.select(Host.unit, sa.func.count(), sa.func.sum(sa.case((Host.online.is_(False), 1), else_=0)))
         .group_by(Host.unit).order_by(Host.unit))
    return [UnitLine(unit=u or "未分配单位", hosts=n, offline=int(off or 0), bad=int(bad.get(u, 0)))
            for u, n, off in db.execute(q)]


def attention(*, db: Session, limit: int = ATTENTION_LIMIT) -> list[HostRow]:
    """Offline hosts and hosts with a check not OK, by unit and name, at most `limit`."""
    q = (sa.select(Host).where(sa.or_(Host.online.is_(False), Host.id.in_(_bad_ids())))
         .order_by(Host.unit, Host.name).limit(limit))
    return hostlist.rows_for(db=db, hosts=list(db.scalars(q)))
