"""Loopback ports for tests: one nothing listens on, whether a local service is up, and a tiny server."""
from __future__ import annotations

import re
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


def read_request(conn: socket.socket) -> bytes:
    """One whole HTTP request (head and Content-Length body). A server that answers after reading only
    part of it and closes makes the kernel reset the connection, which can discard the answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    found = re.search(rb"(?i)content-length: *(\d+)", head)
    length = int(found.group(1)) if found else 0
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest
