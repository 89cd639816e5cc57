"""`GET /api/v1/agent/config`, the agents' poll: cheap because everything is cached per process, correct
across processes because the cache is keyed by the database's template generation.

Per request: the token from the ingest token cache (collector.ingest.auth), the generation (read from
the database at most once a second per process: every template change moves it in its own
transaction), the host's selection of template versions (a hash and a label comparison per template),
the encoded body by selection. Only a generation change reloads the rollout state, and only a body not
built before in this process writes one row (template_configs: which template versions it holds).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Optional

import sqlalchemy as sa
from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from collector.ingest import pipeline
from collector.ingest.auth import HostInfo
from collector.security import token_digest
from collector.templates import rollout, service

GENERATION_TTL = 1.0  # seconds a process trusts the generation it read; agents poll every 30 s
MAX_BODIES = 10_000


class ConfigCache:
    def __init__(self) -> None:
        self.snapshot: Optional[rollout.Snapshot] = None
        self.checked_at = -1e9
        self.bodies: dict[tuple[tuple[str, int], ...], rollout.Effective] = {}
        self.lock = threading.Lock()

    def fresh(self) -> Optional[rollout.Snapshot]:
        if self.snapshot is not None and time.monotonic() - self.checked_at < GENERATION_TTL:
            return self.snapshot
        return None

    def invalidate(self) -> None:
        """After a change made by this process: the next poll reads the generation again."""
        self.checked_at = -1e9

    def refresh(self, state: Any) -> rollout.Snapshot:
        """On a worker thread: the generation, and the rollout state when it moved."""
        with self.lock:
            snap = self.fresh()
            if snap is not None:
                return snap
            with state.read_engine.connect() as conn:
                gen = int(conn.execute(sa.text("SELECT value FROM template_generation WHERE id = 1")).scalar() or 0)
            if self.snapshot is None or self.snapshot.generation != gen:
                with state.read_sessionmaker() as db:
                    snap = service.load_snapshot(db)
                self.snapshot, self.bodies = snap, {}
            self.checked_at = time.monotonic()
            return self.snapshot  # type: ignore[return-value]


def cache_of(state: Any) -> ConfigCache:
    cache = getattr(state, "config_cache", None)
    if cache is None:
        cache = state.config_cache = ConfigCache()
    return cache


async def host_of(state: Any, token: Optional[str], addr: str) -> HostInfo:
    """The token's host as ingest finds it (same cache, same throttle of bad tokens)."""
    if token is None:
        raise HTTPException(401, "缺少代理令牌", headers={"WWW-Authenticate": "Bearer"})
    tokens, failures = pipeline.parts(state)
    digest = token_digest(token)
    info = tokens.cached(digest)
    if info is None:
        if not tokens.known(digest) and failures.blocked(addr):
            async with failures.serial(addr):
                info = await run_in_threadpool(tokens.lookup, state.read_engine, token, digest)
        else:
            info = await run_in_threadpool(tokens.lookup, state.read_engine, token, digest)
    if info is None:
        blocked = failures.blocked(addr)
        failures.failed(addr)
        if blocked:
            raise HTTPException(429, "认证失败次数过多, 请稍后再试", headers={"Retry-After": "60"})
        raise HTTPException(401, "代理令牌无效", headers={"WWW-Authenticate": "Bearer"})
    return info


async def effective_for(state: Any, info: HostInfo) -> rollout.Effective:
    cache = cache_of(state)
    snap = cache.fresh() or await run_in_threadpool(cache.refresh, state)
    key = rollout.selection(snap, info.name, rollout.host_labels(info.unit, info.labels))
    eff = cache.bodies.get(key)
    if eff is None:
        eff = rollout.merge(snap, key)
        await run_in_threadpool(_record, state, eff)
        if len(cache.bodies) >= MAX_BODIES:
            cache.bodies.clear()
        cache.bodies[key] = eff
    return eff


def _record(state: Any, eff: rollout.Effective) -> None:
    with state.sessionmaker() as db:
        service.record_served(db, eff, state.clock())
        db.commit()


def etag_matches(header: Optional[str], version: str) -> bool:
    if not header:
        return False
    return any(tag.strip().removeprefix("W/") == f'"{version}"' for tag in header.split(","))
