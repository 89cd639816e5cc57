"""HTTP to the collector on the standard `http.client`: one connection per request, closed after it."""
from __future__ import annotations

import http.client
import time
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import SplitResult

MAX_REPLY = 1024 * 1024  # bytes of reply body read; the contract's replies are small


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def connection(url: SplitResult, timeout: float, ssl_context: Optional[Any] = None) -> http.client.HTTPConnection:
    """A connection to `url`'s host, not opened yet; https verifies with `ssl_context` (default: the system's CAs)."""
    host = url.hostname or "localhost"
    if url.scheme == "https":
        return http.client.HTTPSConnection(host, url.port, timeout=timeout, context=ssl_context)
    return http.client.HTTPConnection(host, url.port, timeout=timeout)


def exchange(conn: http.client.HTTPConnection, method: str, path: str, body: Optional[bytes] = None,
             headers: Optional[dict[str, str]] = None, limit: int = MAX_REPLY,
             deadline: Optional[float] = None) -> Reply:
    """One request on `conn` (connecting if needed) and its reply, of which at most `limit` bytes
    of body are read, by `deadline` (time.monotonic) if given: the socket timeout bounds each read,
    this the whole reply of a peer that sends a byte now and then. Raises OSError (TimeoutError
    past the deadline) or http.client.HTTPException (a peer that does not answer in HTTP)."""
    conn.request(method, path, body, {"Connection": "close", **(headers or {})})
    response = conn.getresponse()
    if deadline is None:
        data = response.read(limit)
    else:
        parts: list[bytes] = []
        left = limit
        while left > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("reply not complete in time")
            chunk = response.read1(min(left, 65536))
            if not chunk:
                break
            parts.append(chunk)
            left -= len(chunk)
        data = b"".join(parts)
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)


def post(url: SplitResult, path: str, body: bytes, headers: dict[str, str], timeout: float,
         ssl_context: Optional[Any] = None) -> Reply:
    """POST `body` to `path` on `url`'s host over a fresh connection."""
    conn = connection(url, timeout, ssl_context)
    try:
        return exchange(conn, "POST", path, body, headers)
    finally:
        conn.close()
