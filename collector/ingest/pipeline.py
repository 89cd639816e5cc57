"""One agent batch, from request bytes to committed rows: authenticate, validate, store, evaluate.

Runs in a worker thread. Refusals come first and cost little: a bad token costs one indexed read and
no write (and, from an address with many recent failures, not even that: 429); only then is the body
parsed. The write transaction starts with `UPDATE hosts … WHERE id AND token_hash AND online`,
which records the contact, re-checks the token (a rotated token fails here at once) and row-locks the
host, so two batches of one agent never interleave their check-state updates across processes.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException

from collector import flows
from collector.config import Settings
from collector.db import utcnow, write_gate
from collector.hosts import service as hosts
from collector.hosts.models import Host
from collector.ingest.auth import HostInfo, TokenCache
from collector.ingest.records import Rec, parse
from collector.limits import FailureLimiter
from collector.results.validate import BatchError
from collector.security import token_digest

_HOSTS = Host.__table__


def parts(state: Any) -> tuple[TokenCache, FailureLimiter]:
    """The per-process token cache and failure limiter, kept on app.state."""
    cache = getattr(state, "ingest_tokens", None)
    if cache is None:
        cache = state.ingest_tokens = TokenCache()
        state.ingest_failures = FailureLimiter()
    return cache, state.ingest_failures


def ingest(*, state: Any, settings: Settings, token: str, body: bytes, addr: str) -> flows.IngestReply:
    metrics = state.metrics
    cache, failures = parts(state)
    digest = token_digest(token)
    info = cache.cached(digest)
    if info is None:
        if failures.blocked(addr):
            metrics.rejected("unauthorized")
            raise HTTPException(429, "认证失败次数过多, 请稍后再试", headers={"Retry-After": "60"})
        with state.read_sessionmaker() as rdb:
            info = cache.lookup(rdb, token, digest)
    if info is None:
        failures.failed(addr)
        metrics.rejected("unauthorized")
        raise HTTPException(401, "代理令牌无效", headers={"WWW-Authenticate": "Bearer"})
    now = utcnow()
    try:
        agent, recs = parse(body, max_results=settings.ingest.max_results_per_batch,
                            max_depth=settings.ingest.max_json_depth, now=now)
    except BatchError as e:
        metrics.rejected("invalid")
        raise HTTPException(e.status, {"message": e.message, "errors": e.errors}) from None
    foreign = sorted({r.host for r in recs if r.host != info.name})
    if foreign:
        metrics.rejected("forbidden")
        raise HTTPException(403, f"令牌属于主机 {info.name}, 不能写入主机 {', '.join(foreign[:5])} 的结果")
    with write_gate(state.engine), state.sessionmaker() as db:
        seen = db.execute(_contact(info, digest, agent, recs, now))
        if seen.rowcount == 1:
            changes = flows.TicketChanges([], [])
            reply, _ = flows.store(db=db, host=info, recs=recs, now=now, settings=settings, changes=changes)
        else:  # token rotated, host gone, or host offline (its return resolves the offline ticket)
            host = hosts.authenticate(db=db, token=token)
            if host is None:
                db.rollback()
                cache.forget(digest)
                metrics.rejected("unauthorized")
                raise HTTPException(401, "代理令牌无效", headers={"WWW-Authenticate": "Bearer"})
            reply, changes = flows.ingest_records(db=db, host=host, agent=agent, recs=recs, now=now,
                                                  settings=settings)
        db.commit()
    state.events.ticket_changes(changes)
    return reply


def _contact(info: HostInfo, digest: str, agent: dict[str, Any], recs: list[Rec], now: datetime) -> Any:
    """What hosts.record_contact does, as one guarded UPDATE (plus last_seq from this batch)."""
    values: dict[str, Any] = {"last_seen_at": now}
    version = agent.get("version")
    if isinstance(version, str):
        values["agent_version"] = version[:32]
    hb = agent.get("heartbeat")
    if isinstance(hb, (int, float)) and 1 <= hb <= 86400:
        values["heartbeat_seconds"] = float(hb)
    dropped = agent.get("dropped_total")
    if isinstance(dropped, int) and dropped >= 0:
        values["dropped_total"] = dropped
    seqs = [r.seq for r in recs if r.seq is not None]
    if seqs:
        top = max(seqs)
        values["last_seq"] = sa.case((sa.or_(_HOSTS.c.last_seq.is_(None), _HOSTS.c.last_seq < top), top),
                                     else_=_HOSTS.c.last_seq)
    return (sa.update(_HOSTS).where(_HOSTS.c.id == info.id, _HOSTS.c.token_hash == digest,
                                    _HOSTS.c.online.is_(True)).values(**values))
