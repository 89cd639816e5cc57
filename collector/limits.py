"""Back-pressure and cheap refusals for the ingest endpoint.

`IngestGate`: at most `slots` batches are processed at once per process; a request that waits longer
than `wait_ms` for a slot is answered 503 with Retry-After (the agent keeps the batch in its spool and
retries), so an overloaded collector sheds load early instead of letting latency grow without bound.
`FailureLimiter`: a client address that sent many bad tokens recently gets 429 for every further bad token,
and its tokens not known in this process are looked up one at a time (at most one database read in flight
per address). A valid token is never refused for its neighbours' failures: agents behind the same NAT go on,
also when their cache entry has expired and also when they are new.
`SecurityHeaders`: nosniff, DENY framing and no referrer on every answer.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from typing import Any


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
        if self._sem.locked():  # (a free slot is taken at once, also with wait_ms=0)
            try:
                await asyncio.wait_for(self._sem.acquire(), self.wait)
            except asyncio.TimeoutError:
                raise Overloaded(self.retry_after) from None
        else:
            await self._sem.acquire()
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
        self._serial: OrderedDict[str, asyncio.Lock] = OrderedDict()

    def serial(self, addr: str) -> asyncio.Lock:
        """The lock that a blocked address's unknown tokens take turns on (event loop only). Bounded: an
        address pushed out while its lock is held gets a second one, at worst two reads in flight."""
        lock = self._serial.get(addr)
        if lock is None:
            lock = self._serial[addr] = asyncio.Lock()
            while len(self._serial) > self.size:
                self._serial.popitem(last=False)
        self._serial.move_to_end(addr)
        return lock

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


SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Pure ASGI middleware (no BaseHTTPMiddleware cost on the hot path): the basic security headers on
    every answer, unless an inner layer (the console, with its CSP) already set them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in have)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_input_guards(app: Any) -> None:
    """Values the database cannot hold (an id past 64 bits, a number out of a column's range, a NUL in
    text on PostgreSQL) are the client's error: 422, not a server error. Found by the OpenAPI fuzz test."""
    from fastapi.responses import JSONResponse
    from sqlalchemy.exc import DataError

    async def out_of_range(request: Any, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": {"message": "参数超出允许范围", "errors": []}}, status_code=422)

    for exc in (OverflowError, DataError):
        app.add_exception_handler(exc, out_of_range)
