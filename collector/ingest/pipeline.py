"""One agent batch, from request bytes to committed rows: authenticate, validate, store, evaluate.

Authentication from the token cache and validation run on the event loop (`ingest_async`); the database
work runs on the process's writer threads (collector.ingest.group). Refusals come first and cost little:
a bad token costs one indexed read (on a worker thread) and no write (and, from an address with many
recent failures, not even that: 429); only then is the body parsed. The write transaction starts with
`UPDATE hosts … WHERE id AND token_hash AND online`, which records the contact, re-checks the token (a
rotated token fails here at once) and row-locks the host, so two batches of one agent never interleave
their check-state updates across processes. The common batch then needs one or two more statements to
store and load states (collector.ingest.store) and one to save states; tickets, when they move, go
through the ORM on the same transaction (collector.ingest.tx).
Under load, batches that queue for the writer share one transaction (group commit: collector.ingest.group).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Optional

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from collector import flows
from collector.config import Settings
from collector.db import utcnow
from collector.hosts import service as hosts
from collector.ingest.auth import HostInfo, TokenCache
from collector.ingest.group import GroupWriter
from collector.ingest.records import Rec, parse
from collector.ingest.tx import Tx, sqlite_time
from collector.limits import FailureLimiter
from collector.results.validate import BatchError
from collector.security import token_digest


def parts(state: Any) -> tuple[TokenCache, FailureLimiter]:
    """The per-process token cache and failure limiter, kept on app.state."""
    cache = getattr(state, "ingest_tokens", None)
    if cache is None:
        cache = state.ingest_tokens = TokenCache()
        state.ingest_failures = FailureLimiter()
    return cache, state.ingest_failures


def ingest(*, state: Any, settings: Settings, token: str, body: bytes, addr: str) -> flows.IngestReply:
    """One batch, on any thread (tests, tools): waits for its transaction."""
    digest, info = _cached(state, token, addr)
    if info is None:
        info = _lookup(state, token, digest)
    work = _accept(state, settings, token, digest, info, body, addr)
    try:
        reply, changes = writer(state).run(work, key=info.id)
    except _TokenGone:
        raise _token_gone(state, digest) from None
    state.events.ticket_changes(changes)
    return reply


async def ingest_async(*, state: Any, settings: Settings, token: str, body: bytes,
                       addr: str) -> flows.IngestReply:
    """One batch, on the event loop: authenticated from the cache and validated here, written by the
    process's writer threads (collector.ingest.group); only a token missing from the cache is looked up
    on a worker thread."""
    digest, info = _cached(state, token, addr)
    if info is None:
        info = await run_in_threadpool(_lookup, state, token, digest)
    work = _accept(state, settings, token, digest, info, body, addr)
    try:
        reply, changes = await writer(state).run_async(work, key=info.id)
    except _TokenGone:
        raise _token_gone(state, digest) from None
    state.events.ticket_changes(changes)
    return reply


def _cached(state: Any, token: str, addr: str) -> tuple[str, Optional[HostInfo]]:
    """(token digest, its host from the cache); 429 for an address with too many recent failures."""
    cache, failures = parts(state)
    digest = token_digest(token)
    info = cache.cached(digest)
    if info is None and failures.blocked(addr):
        state.metrics.rejected("unauthorized")
        raise HTTPException(429, "认证失败次数过多, 请稍后再试", headers={"Retry-After": "60"})
    return digest, info


def _lookup(state: Any, token: str, digest: str) -> Optional[HostInfo]:
    with state.read_sessionmaker() as rdb:
        return parts(state)[0].lookup(rdb, token, digest)


def _accept(state: Any, settings: Settings, token: str, digest: str, info: Optional[HostInfo], body: bytes,
            addr: str) -> Callable[[Tx], tuple[flows.IngestReply, flows.TicketChanges]]:
    """The batch's write, once the token opens a host and the body is valid and only that host's."""
    metrics = state.metrics
    if info is None:
        parts(state)[1].failed(addr)
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
    host = info
    return lambda tx: _write(tx, settings, host, digest, token, agent, recs, now)


def _token_gone(state: Any, digest: str) -> HTTPException:
    parts(state)[0].forget(digest)
    state.metrics.rejected("unauthorized")
    return HTTPException(401, "代理令牌无效", headers={"WWW-Authenticate": "Bearer"})


def writer(state: Any) -> GroupWriter:
    """The process's group writer (collector.ingest.group), kept on app.state."""
    group = getattr(state, "ingest_writer", None)
    if group is None:
        group = state.ingest_writer = GroupWriter(state.engine, state.settings.ingest.group_max,
                                                 state.settings.ingest.group_writers)
        group.on_group = state.metrics.group
    return group


class _TokenGone(Exception):
    """The cached token no longer opens its host (rotated or host deleted)."""


def _write(tx: Tx, settings: Settings, info: HostInfo, digest: str, token: str, agent: dict[str, Any],
           recs: list[Rec], now: datetime) -> tuple[flows.IngestReply, flows.TicketChanges]:
    """One batch inside a write transaction (perhaps shared with other batches of this process)."""
    try:
        sql, params = _contact(tx.pg, info, digest, agent, recs, now)
        if tx.pg:  # PostgreSQL also returns the host's last_seq from before this batch
            rows = tx.query(sql, params)
            known, stored_upto = bool(rows), (rows[0][0] or 0) if rows else None
        else:
            known, stored_upto = tx.execute(sql, params) == 1, None
        if known:
            changes = flows.TicketChanges([], [])
            reply, _ = flows.store(tx=tx, host=info, recs=recs, now=now, settings=settings, changes=changes,
                                   stored_upto=stored_upto)
        else:  # token rotated, host gone, or host offline (its return resolves the offline ticket)
            host = hosts.authenticate(db=tx.db, token=token)
            if host is None:
                raise _TokenGone
            reply, changes = flows.ingest_records(tx=tx, host=host, agent=agent, recs=recs, now=now,
                                                  settings=settings)
        tx.flush()
    finally:
        tx.close()
    return reply, changes


# Fixed texts (prepared once per connection): what hosts.record_contact does, guarded by the token, plus
# last_seq from this batch. A NULL parameter leaves its column as it was.
# On PostgreSQL the row is locked first (FOR UPDATE waits for a concurrent batch of the same agent and then
# reads its committed row), so the statement can return last_seq as it was before this batch.
_CONTACT_PG = (
    "WITH old AS (SELECT id AS host, last_seq AS before FROM hosts "
    "WHERE id = %(id)s AND token_hash = %(digest)s AND online FOR UPDATE) "
    "UPDATE hosts SET last_seen_at = %(now)s, agent_version = COALESCE(%(version)s::text, agent_version), "
    "heartbeat_seconds = COALESCE(%(hb)s::float8, heartbeat_seconds), "
    "dropped_total = COALESCE(%(dropped)s::int8, dropped_total), "
    "last_seq = CASE WHEN %(seq)s::int8 IS NULL OR last_seq >= %(seq)s::int8 THEN last_seq ELSE %(seq)s::int8 END "
    "FROM old WHERE hosts.id = old.host RETURNING old.before")
_CONTACT_SQLITE = (
    "UPDATE hosts SET last_seen_at = :now, agent_version = COALESCE(:version, agent_version), "
    "heartbeat_seconds = COALESCE(:hb, heartbeat_seconds), dropped_total = COALESCE(:dropped, dropped_total), "
    "last_seq = CASE WHEN :seq IS NULL OR last_seq >= :seq THEN last_seq ELSE :seq END "
    "WHERE id = :id AND token_hash = :digest AND online")


def _contact(pg: bool, info: HostInfo, digest: str, agent: dict[str, Any], recs: list[Rec],
             now: datetime) -> tuple[str, dict[str, Any]]:
    version = agent.get("version")
    hb = agent.get("heartbeat")
    dropped = agent.get("dropped_total")
    seqs = [r.seq for r in recs if r.seq is not None]
    params = {"now": now if pg else sqlite_time(now), "id": info.id, "digest": digest,
              "version": version[:32] if isinstance(version, str) else None,
              "hb": float(hb) if isinstance(hb, (int, float)) and 1 <= hb <= 86400 else None,
              "dropped": dropped if isinstance(dropped, int) and dropped >= 0 else None,
              "seq": max(seqs) if seqs else None}
    return (_CONTACT_PG if pg else _CONTACT_SQLITE), params
