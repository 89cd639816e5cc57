"""Back-pressure and cheap refusals for the ingest endpoint.

`IngestGate`: at most `slots` batches are processed at once per process; a request that waits longer
than `wait_ms` for a slot is answered 503 with Retry-After (the agent keeps the batch in its spool and
retries), so an overloaded collector sheds load early instead of letting latency grow without bound.
`FailureLimiter`: a client address that sent many bad tokens recently is answered 429 without any
database work.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict


class Overloaded(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("overloaded")
        self.retry_after = retry_after


class IngestGate:
    def __init__(self, slots: int, wait_ms: float, retry_after: int = 5) -> None:
        self.slots = slots
        self.wait = wait_ms / 1000.0
        self.retry_after = retry_after
        self._sem: asyncio.Semaphore | None = None
        self.busy = 0

    async def __aenter__(self) -> IngestGate:
        if self._sem is None:  # made inside the running loop (uvicorn workers each have their own)
            self._sem = asyncio.Semaphore(self.slots)
        try:
            await asyncio.wait_for(self._sem.acquire(), self.wait)
        except asyncio.TimeoutError:
            raise Overloaded(self.retry_after) from None
        self.busy += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.busy -= 1
        assert self._sem is not None
        self._sem.release()


class FailureLimiter:
    """Counts authentication failures per client address in a sliding window (bounded memory)."""

    def __init__(self, max_failures: int = 20, window: float = 60.0, size: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.size = size
        self._hits: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked(self, addr: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(addr)
            if not hits:
                return False
            while hits and hits[0] < now - self.window:
                hits.pop(0)
            return len(hits) >= self.max_failures

    def failed(self, addr: str) -> None:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(addr, [])
            hits.append(now)
            del hits[:-self.max_failures]
            self._hits.move_to_end(addr)
            while len(self._hits) > self.size:
                self._hits.popitem(last=False)
