"""Connection limits for `serve`: uvicorn's httptools protocol (`uvicorn.run(http=GuardedHttpTools)`)
with a deadline for the request head (counted from its first byte, not reset by trickling bytes), a body
timeout between two reads, and caps on open connections per client address (trusted proxies exempt) and
per process. A new connection past a cap closes the oldest one not running a request; only when every
one is busy is it refused. All on the event loop, O(1) per connection; settings `server:` in
collector/config.py, the why and the test in docs/security.md (§5).
"""
from __future__ import annotations

import asyncio
import resource
from collections import OrderedDict
from typing import Any, Optional

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from collector.config import ServerSettings, load_settings

FD_RESERVE = 256  # descriptors kept for the database pool, log files, reports and the listening sockets


def default_max_connections() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 100_000
    return max(64, soft - FD_RESERVE)


class ConnectionGuard:
    """The open connections of one server (one per worker process), oldest first, overall and per address."""

    def __init__(self, cfg: ServerSettings) -> None:
        self.per_address = cfg.max_connections_per_address
        self.total = cfg.max_connections or default_max_connections()
        self.exempt = frozenset(cfg.trusted_proxies)
        self.header_timeout = cfg.header_timeout
        self.body_timeout = cfg.body_timeout
        self.all: OrderedDict[GuardedHttpTools, None] = OrderedDict()
        self.by_address: dict[str, OrderedDict[GuardedHttpTools, None]] = {}
        self.refused = 0
        self.evicted = 0

    def admit(self, conn: GuardedHttpTools, addr: str) -> bool:
        """Register a new connection, making room if a cap is reached; False: refuse it."""
        mine = self.by_address.get(addr)
        if mine is not None and self.per_address and addr not in self.exempt and len(mine) >= self.per_address:
            if not self._evict(mine):
                self.refused += 1
                return False
        if len(self.all) >= self.total and not self._evict(self.all):
            self.refused += 1
            return False
        self.all[conn] = None
        self.by_address.setdefault(addr, OrderedDict())[conn] = None
        return True

    def release(self, conn: GuardedHttpTools, addr: str) -> None:
        self.all.pop(conn, None)
        mine = self.by_address.get(addr)
        if mine is not None:
            mine.pop(conn, None)
            if not mine:
                del self.by_address[addr]

    def _evict(self, conns: OrderedDict[GuardedHttpTools, None]) -> bool:
        for conn in conns:  # oldest first
            if not conn.busy():
                self.release(conn, conn.addr)
                conn.transport.close()
                self.evicted += 1
                return True
        return False


def guard_of(server_state: Any) -> ConnectionGuard:
    """The guard of this server; the settings come from the environment, as collector.asgi's app does."""
    guard: Optional[ConnectionGuard] = getattr(server_state, "xunjian_guard", None)
    if guard is None:
        guard = ConnectionGuard(load_settings().server)
        server_state.xunjian_guard = guard
    return guard


def quiet_disconnects(app: Any) -> None:
    """A client that goes away in the middle of its body (one cut by the body timeout, or one that hung up)
    ends its request without a traceback: nobody is left to answer, and it is no server error."""
    from starlette.requests import ClientDisconnect
    from starlette.responses import Response

    async def gone(request: Any, exc: Exception) -> Response:
        return Response(status_code=400)  # never delivered: the connection is closed

    app.add_exception_handler(ClientDisconnect, gone)


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head deadline, body timeout and connection caps above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard_of(self.server_state)
        self.addr = ""
        self._timer: Optional[asyncio.TimerHandle] = None
        self._head_pending = False

    def busy(self) -> bool:
        """A request is with the application (never cut by a cap; the body timeout covers its upload)."""
        return self.cycle is not None and not self.cycle.response_complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.addr = self.client[0] if self.client else ""
        if not self.guard.admit(self, self.addr):
            transport.close()
            return
        self._head_started()  # a connection that never sends a byte is closed at the head deadline too

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._cancel()
        self.guard.release(self, self.addr)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # (stops the keep-alive timer)
        if self._timer is None and not self.busy() and not self.transport.is_closing():
            self._head_started()  # bytes that begin no message yet (blank lines) are on the clock too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._head_pending:  # a keep-alive connection's next request: its own deadline
            self._head_started()

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._arm(self.guard.body_timeout)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self.guard.body_timeout)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel()
        super().on_message_complete()

    def _head_started(self) -> None:
        self._head_pending = True
        self._arm(self.guard.header_timeout)

    def _arm(self, seconds: float) -> None:
        self._cancel()
        self._timer = self.loop.call_later(seconds, self._timed_out)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()
