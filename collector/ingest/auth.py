"""Agent token → host, cached briefly per process.

The cache only saves the SELECT: every batch is written under `UPDATE hosts … WHERE id = :id AND
token_hash = :digest`, so a rotated (re-enrolled) token stops writing at once, in every process; what
may be up to `ttl` (300) seconds stale is only the host's unit, room and labels copied onto new tickets
(an agent posts about once a minute: a shorter life made nearly every batch a miss).
Unknown tokens are looked up by digest (unique index) and never cached, and nothing is written for them.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.hosts.models import Host
from collector.security import digest_matches

# built once: a miss costs the query, not the construction and cache-key walk of a new statement
_BY_DIGEST = (sa.select(Host.id, Host.name, Host.unit, Host.room, Host.labels, Host.token_hash)
              .where(Host.token_hash == sa.bindparam("digest")))


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

    def lookup(self, db: Session, token: str, digest: str) -> Optional[HostInfo]:
        hit = self.cached(digest)
        if hit is not None:
            return hit
        now = time.monotonic()
        row = db.execute(_BY_DIGEST, {"digest": digest}).first()
        if row is None or not digest_matches(token, row.token_hash):
            return None
        info = HostInfo(row.id, row.name, row.unit, row.room, row.labels)
        with self._lock:
            self._items[digest] = (now + self.ttl, info)
            self._items.move_to_end(digest)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return info

    def forget(self, digest: str) -> None:
        with self._lock:
            self._items.pop(digest, None)
