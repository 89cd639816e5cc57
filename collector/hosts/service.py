from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.db import utcnow
from collector.hosts.models import Host
from collector.security import AGENT_TOKEN_PREFIX, digest_matches, new_token, token_digest


def enroll(*, db: Session, name: str, unit: str = "", room: str = "",
           labels: Optional[dict[str, Any]] = None) -> tuple[Host, str]:
    """Create the host or rotate its token; the token is returned once and stored only as a hash."""
    token = new_token(AGENT_TOKEN_PREFIX)
    host = get_by_name(db=db, name=name)
    labels = dict(labels or {})
    unit = unit or str(labels.get("unit", ""))
    room = room or str(labels.get("room", ""))
    if unit:
        labels["unit"] = unit
    if room:
        labels["room"] = room
    if host is None:
        host = Host(name=name, unit=unit, room=room, labels=labels, enrolled_at=utcnow(),
                    agent_version="", heartbeat_seconds=30.0, online=True, dropped_total=0, rejected_total=0)
        db.add(host)
    else:
        host.unit = unit or host.unit
        host.room = room or host.room
        host.labels = {**(host.labels or {}), **labels}
    host.token_hash = token_digest(token)
    db.flush()
    return host, token


def get_by_name(*, db: Session, name: str) -> Optional[Host]:
    return db.scalar(sa.select(Host).where(Host.name == name))


def get(*, db: Session, host_id: int) -> Optional[Host]:
    return db.get(Host, host_id)


def authenticate(*, db: Session, token: str) -> Optional[Host]:
    host = db.scalar(sa.select(Host).where(Host.token_hash == token_digest(token)))
    if host is None or not digest_matches(token, host.token_hash):
        return None
    return host


def list_hosts(*, db: Session, unit: Optional[str] = None) -> list[Host]:
    q = sa.select(Host).order_by(Host.unit, Host.name)
    if unit:
        q = q.where(Host.unit == unit)
    return list(db.scalars(q))


def record_contact(*, host: Host, at: datetime, agent: dict[str, Any],
                   config: tuple[Optional[str], Optional[str], Optional[str]] = (None, None, None)) -> bool:
    """Note the agent's contact; returns True when the host was offline and is now back. `config`: the
    central config versions it reported (collector.ingest.contact.config_report)."""
    was_offline = not host.online
    host.last_seen_at = at
    host.online = True
    version = agent.get("version")
    if isinstance(version, str):
        host.agent_version = version[:32]
    hb = agent.get("heartbeat")
    if isinstance(hb, (int, float)) and 1 <= hb <= 86400:
        host.heartbeat_seconds = float(hb)
    dropped = agent.get("dropped_total")
    if isinstance(dropped, int) and dropped >= 0:
        host.dropped_total = dropped
    rejected = agent.get("rejected_total")
    if isinstance(rejected, int) and 0 <= rejected < 2**63:
        host.rejected_total = rejected
    cfg, refused, refused_error = config
    if cfg is not None:
        host.config_version = cfg
    if refused is not None:
        host.config_refused_version = refused
        host.config_refused_error = refused_error or ""
    return was_offline
