"""Reading stored results back (storing them is collector.ingest's job)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.hosts.models import Host
from collector.results.models import CheckState, ResultRow


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
