"""Agent token → host, cached briefly per process.

The cache only saves the SELECT: every batch is written under `UPDATE hosts … WHERE id = :id AND
token_hash = :digest`, so a rotated (re-enrolled) token stops writing at once, in every process; what
may be up to `ttl` (300) seconds stale is only the host's unit, room and labels copied onto new tickets
(an agent posts about once a minute: a shorter life made nearly every batch a miss).
Unknown tokens are looked up by digest (unique index) and never cached, and nothing is written for them.
An expired entry stays until it is pushed out or fails its next lookup: `known` tells the failure limiter
that this token opened a host here before, so a flood of bad tokens from its address never holds it up.
"""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa

from collector.security import digest_matches

_BY_DIGEST_PG = "SELECT id, name, unit, room, labels, token_hash FROM hosts WHERE token_hash = %s"
_BY_DIGEST_SQLITE = "SELECT id, name, unit, room, labels, token_hash FROM hosts WHERE token_hash = ?"


def host_row(engine: sa.Engine, digest: str) -> Optional[tuple[Any, ...]]:
    """(id, name, unit, room, labels, token_hash) of the host with this token digest: one statement on a
    pooled driver connection, outside a transaction (no BEGIN and ROLLBACK round trips, no ORM session:
    about a third of the CPU of a Session query). Every worker process looks each agent up once per cache
    life, more often with more processes."""
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        if engine.dialect.name == "postgresql":
            conn.autocommit = True
            try:
                row = conn.execute(_BY_DIGEST_PG, (digest,), prepare=True).fetchone()
            finally:
                conn.autocommit = False
        else:
            row = conn.execute(_BY_DIGEST_SQLITE, (digest,)).fetchone()
    finally:
        raw.close()
    if row is not None and isinstance(row[4], str):  # SQLite keeps JSON as text
        row = (*row[:4], json.loads(row[4]), row[5])
    return row


@dataclass(frozen=True)
class HostInfo:
    id: int
    name: str
    unit: str
    room: str
    labels: Any


class TokenCache:
    def __init__(self, ttl: float = 300.0, size: int = 50_000) -> None:
        self.ttl = ttl
        self.size = size
        self._items: OrderedDict[str, tuple[float, HostInfo]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, digest: str) -> Optional[HostInfo]:
        with self._lock:
            hit = self._items.get(digest)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def known(self, digest: str) -> bool:
        """This token opened a host in this process before (its entry may have expired)."""
        with self._lock:
            return digest in self._items

    def lookup(self, engine: sa.Engine, token: str, digest: str) -> Optional[HostInfo]:
        hit = self.cached(digest)
        if hit is not None:
            return hit
        now = time.monotonic()
        row = host_row(engine, digest)
        if row is None or not digest_matches(token, row[5]):
            self.forget(digest)  # rotated or deleted: no longer vouched for
            return None
        info = HostInfo(*row[:5])
        with self._lock:
            self._items[digest] = (now + self.ttl, info)
            self._items.move_to_end(digest)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return info

    def forget(self, digest: str) -> None:
        with self._lock:
            self._items.pop(digest, None)
