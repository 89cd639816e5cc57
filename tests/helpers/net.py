"""Loopback ports for tests: one nothing listens on, whether a local service is up, and a tiny server."""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable


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


def serve_loopback(handle: Callable[[socket.socket], None], backlog: int = 8) -> tuple[int, socket.socket]:
    """A loopback server: each connection in turn is handed to `handle` on a daemon thread and then closed
    (an OSError, e.g. the client hanging up first, is ignored). Returns (port, listening socket); closing
    the socket stops the server."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(backlog)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                try:
                    handle(conn)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], srv
