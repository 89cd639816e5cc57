"""Loopback ports for tests: one nothing listens on, and whether a local service is up."""
from __future__ import annotations

import socket


def closed_port() -> int:
    """A loopback port that was free a moment ago: connecting to it is refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False
