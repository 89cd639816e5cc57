"""HTTP to the collector on the standard `http.client`: one connection per request, closed after it."""
from __future__ import annotations

import http.client
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
             headers: Optional[dict[str, str]] = None, limit: int = MAX_REPLY) -> Reply:
    """One request on `conn` (connecting if needed) and its reply, of which at most `limit` bytes
    of body are read; raises OSError or http.client.HTTPException (a peer that does not answer in HTTP)."""
    conn.request(method, path, body, {"Connection": "close", **(headers or {})})
    response = conn.getresponse()
    data = response.read(limit)
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)


def post(url: SplitResult, path: str, body: bytes, headers: dict[str, str], timeout: float,
         ssl_context: Optional[Any] = None) -> Reply:
    """POST `body` to `path` on `url`'s host over a fresh connection."""
    conn = connection(url, timeout, ssl_context)
    try:
        return exchange(conn, "POST", path, body, headers)
    finally:
        conn.close()
