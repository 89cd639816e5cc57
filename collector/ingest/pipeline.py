"""One agent batch, from request bytes to committed rows: authenticate, validate, store, evaluate.

Token look-up from the cache and validation run on the event loop (`ingest_async`); refusals come first
and cost no write, and only then is the body parsed. The write runs on the process's writer threads
(collector.ingest.writer). The whole flow, statement by statement: docs/ingest.md.
"""
from __future__ import annotations

from typing import Any, Optional

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from collector.config import Settings
from collector.ingest.auth import HostInfo, TokenCache
from collector.ingest.batch import BatchWrite, IngestReply, TokenGone
from collector.ingest.pg_group import write_group
from collector.ingest.records import BatchError, parse
from collector.ingest.writer import GroupWriter
from collector.limits import FailureLimiter
from collector.security import token_digest


def parts(state: Any) -> tuple[TokenCache, FailureLimiter]:
    """The per-process token cache and failure limiter, kept on app.state."""
    cache = getattr(state, "ingest_tokens", None)
    if cache is None:
        cache = state.ingest_tokens = TokenCache()
        state.ingest_failures = FailureLimiter()
    return cache, state.ingest_failures


def ingest(*, state: Any, settings: Settings, token: str, body: bytes, addr: str) -> IngestReply:
    """One batch, on any thread (tests, tools): waits for its transaction."""
    work = prepare(state=state, settings=settings, token=token, body=body, addr=addr)
    try:
        reply = writer(state).run(work, key=work.info.id)
    except TokenGone:
        raise _token_gone(state, work.digest) from None
    return reply


def prepare(*, state: Any, settings: Settings, token: str, body: bytes, addr: str) -> BatchWrite:
    """A batch authenticated and validated on this thread, ready for a write transaction (HTTPException
    if it is refused)."""
    digest, info = _cached(state, token)
    if info is None:
        info = _lookup(state, token, digest)
    return _accept(state, settings, token, digest, info, body, addr)


async def ingest_async(*, state: Any, settings: Settings, token: str, body: bytes,
                       addr: str) -> IngestReply:
    """One batch, on the event loop: authenticated from the cache and validated here, written by the
    process's writer threads (collector.ingest.writer); only a token missing from the cache is looked up
    on a worker thread."""
    digest, info = _cached(state, token)
    if info is None:
        info = await _lookup_async(state, token, digest, addr)
    work = _accept(state, settings, token, digest, info, body, addr)
    try:
        reply = await writer(state).run_async(work, key=info.id)
    except TokenGone:
        raise _token_gone(state, digest) from None
    return reply


def _cached(state: Any, token: str) -> tuple[str, Optional[HostInfo]]:
    """(token digest, its host from the cache)."""
    digest = token_digest(token)
    return digest, parts(state)[0].cached(digest)


def _lookup(state: Any, token: str, digest: str) -> Optional[HostInfo]:
    return parts(state)[0].lookup(state.read_engine, token, digest)


async def _lookup_async(state: Any, token: str, digest: str, addr: str) -> Optional[HostInfo]:
    """A token missing from the cache, looked up on a worker thread. From an address that sent many bad
    tokens, tokens this process has not seen open a host take turns (a NAT may hide good agents behind
    the bad ones, so they are looked up, not refused; the flood holds one database read at a time)."""
    cache, failures = parts(state)
    if cache.known(digest) or not failures.blocked(addr):
        return await run_in_threadpool(_lookup, state, token, digest)
    async with failures.serial(addr):
        return await run_in_threadpool(_lookup, state, token, digest)


def _accept(state: Any, settings: Settings, token: str, digest: str, info: Optional[HostInfo], body: bytes,
            addr: str) -> BatchWrite:
    """The batch's write, once the token opens a host and the body is valid and only that host's."""
    metrics = state.metrics
    if info is None:
        failures = parts(state)[1]
        blocked = failures.blocked(addr)
        failures.failed(addr)
        metrics.rejected("unauthorized")
        if blocked:  # only bad tokens are throttled; a valid one from this address was let through above
            raise HTTPException(429, "认证失败次数过多, 请稍后再试", headers={"Retry-After": "60"})
        raise HTTPException(401, "代理令牌无效", headers={"WWW-Authenticate": "Bearer"})
    now = state.clock()
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
    return BatchWrite(settings, info, digest, token, agent, recs, now)


def _token_gone(state: Any, digest: str) -> HTTPException:
    parts(state)[0].forget(digest)
    state.metrics.rejected("unauthorized")
    return HTTPException(401, "代理令牌无效", headers={"WWW-Authenticate": "Bearer"})


def writer(state: Any) -> GroupWriter:
    """The process's group writer (collector.ingest.writer), kept on app.state."""
    group = getattr(state, "ingest_writer", None)
    if group is None:
        group = state.ingest_writer = GroupWriter(state.engine, state.settings.ingest.group_max,
                                                 state.settings.ingest.group_writers, many=write_group)
        group.on_group = state.metrics.group
    return group
