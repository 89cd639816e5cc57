"""Storing results idempotently and reading them back."""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from checks.model import Result
from collector.db import insert_for
from collector.hosts.models import Host
from collector.results.models import CheckState, ResultRow


def to_row(result: Result, host_id: int, received_at: datetime) -> dict[str, Any]:
    return {
        "id": result.id, "started_at": result.started_at, "host_id": host_id, "check": result.check,
        "type": result.type, "system": result.system, "status": int(result.status),
        "summary": result.summary, "duration": result.duration,
        "metrics": [m.to_dict() for m in result.metrics], "details": result.details,
        "seq": result.seq, "received_at": received_at,
    }


def insert_new(*, db: Session, rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert, skipping results already stored (same id and start time); returns the new ids."""
    if not rows:
        return set()
    table = ResultRow.__table__
    stmt = insert_for(db.get_bind(), table).on_conflict_do_nothing(index_elements=["started_at", "id"])
    got = db.execute(stmt.returning(table.c.id), list(rows))
    return {r[0] for r in got}


def states_for(*, db: Session, host_id: int, checks: Sequence[str]) -> dict[str, CheckState]:
    if not checks:
        return {}
    q = sa.select(CheckState).where(CheckState.host_id == host_id, CheckState.check.in_(list(checks)))
    return {s.check: s for s in db.scalars(q)}


def list_results(*, db: Session, host_id: Optional[int] = None, check: Optional[str] = None,
                 since: Optional[datetime] = None, before: Optional[tuple[datetime, uuid.UUID]] = None,
                 limit: int = 100) -> list[tuple[ResultRow, str]]:
    """Newest first, each with its host's name; `before` is the keyset cursor of the previous page."""
    q = (sa.select(ResultRow, Host.name).join(Host, Host.id == ResultRow.host_id)
         .order_by(ResultRow.started_at.desc(), ResultRow.id.desc()).limit(limit))
    if host_id is not None:
        q = q.where(ResultRow.host_id == host_id)
    if check:
        q = q.where(ResultRow.check == check)
    if since is not None:
        q = q.where(ResultRow.started_at >= since)
    if before is not None:
        t, rid = before
        q = q.where(sa.or_(ResultRow.started_at < t, sa.and_(ResultRow.started_at == t, ResultRow.id < rid)))
    return [(row, name) for row, name in db.execute(q)]


def latest_states(*, db: Session, host_id: Optional[int] = None) -> list[CheckState]:
    q = sa.select(CheckState).order_by(CheckState.host_id, CheckState.check)
    if host_id is not None:
        q = q.where(CheckState.host_id == host_id)
    return list(db.scalars(q))
