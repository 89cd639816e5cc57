"""The connection caps of `serve` (collector/serving.py) on stand-in connections: the oldest connection
not running a request makes way; a busy one never does; trusted proxies have no per-address cap."""
from __future__ import annotations

from typing import Any

from collector.config import ServerSettings
from collector.serving import ConnectionGuard, default_max_connections


class Conn:
    def __init__(self, addr: str, busy: bool = False) -> None:
        self.addr = addr
        self._busy = busy
        self.transport = self
        self.closed = False

    def busy(self) -> bool:
        return self._busy

    def close(self) -> None:
        self.closed = True


def admit(guard: ConnectionGuard, conn: Any) -> bool:
    return guard.admit(conn, conn.addr)


def test_per_address_cap_pushes_out_the_oldest_idle_connection_of_that_address() -> None:
    guard = ConnectionGuard(ServerSettings(max_connections_per_address=3, max_connections=100))
    busy = Conn("10.0.0.1", busy=True)
    idle = [Conn("10.0.0.1") for _ in range(2)]
    other = Conn("10.0.0.2")
    assert all(admit(guard, c) for c in (busy, *idle, other))
    newcomer = Conn("10.0.0.1")
    assert admit(guard, newcomer)
    assert idle[0].closed and not busy.closed and not idle[1].closed and not other.closed
    assert len(guard.by_address["10.0.0.1"]) == 3 and guard.evicted == 1
    # every connection of the address busy: the new one is refused, nobody is cut
    for c in (idle[1], newcomer):
        c._busy = True
    assert not admit(guard, Conn("10.0.0.1")) and guard.refused == 1
    guard.release(busy, busy.addr)  # (connection_lost) frees a place
    assert admit(guard, Conn("10.0.0.1"))


def test_process_cap_and_trusted_proxies() -> None:
    guard = ConnectionGuard(ServerSettings(max_connections_per_address=2, max_connections=5))
    proxied = [Conn("127.0.0.1") for _ in range(4)]  # nginx: no per-address cap
    assert all(admit(guard, c) for c in proxied) and not any(c.closed for c in proxied)
    outsider = Conn("10.0.0.9")
    assert admit(guard, outsider)
    assert admit(guard, Conn("10.0.0.8"))  # the process is full: its oldest idle connection goes
    assert proxied[0].closed and len(guard.all) == 5
    assert default_max_connections() >= 64
