"""A minimal HTTP/1.1 POST over a socket: all the agent needs to talk to the collector.

Not http.client: that module pulls in `email` and `ssl` (about 5 MiB of resident memory) even for
plain http; here ssl is imported only for an https collector. Plain http does not even import
`socket`: its Python layer (enums of every address family and socket kind, `selectors`) stayed
resident at about 0.25 MiB for one connect; `_socket`, the C module it wraps, has all a client
needs. Handles Content-Length, chunked and close-delimited replies; every socket operation and
the whole exchange are under `timeout`.
"""
from __future__ import annotations

import _socket
import time
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import SplitResult

MAX_REPLY = 1024 * 1024  # bytes of reply body we read; the contract's replies are small


class ProtocolError(OSError):
    """The peer did not answer in HTTP."""


@dataclass
class Reply:
    """The collector's answer to one POST."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class _Reader:
    def __init__(self, sock: Any, deadline: float) -> None:  # a _socket.socket or an ssl.SSLSocket
        self.sock = sock
        self.deadline = deadline
        self.buf = b""
        self.eof = False

    def _fill(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _socket.timeout("timed out")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
        self.buf += data

    def line(self, limit: int = 65536) -> bytes:
        while b"\r\n" not in self.buf:
            if self.eof or len(self.buf) > limit:
                raise ProtocolError("reply ended in the middle of a line")
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            if self.eof:
                raise ProtocolError("reply body shorter than announced")
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def rest(self, limit: int) -> bytes:
        while not self.eof and len(self.buf) <= limit:
            self._fill()
        return self.buf[:limit]


def post(url: SplitResult, path: str, body: bytes, headers: dict[str, str], timeout: float,
         ssl_context: Optional[Any] = None) -> Reply:
    """POST `body` to `path` on `url`'s host; raises OSError (timeouts, refusals, resets, garbage)."""
    deadline = time.monotonic() + timeout
    host = url.hostname or "localhost"
    port = url.port or (443 if url.scheme == "https" else 80)
    # An ASCII name goes to getaddrinfo as bytes: a str would load the idna codec (and
    # unicodedata, a few hundred KiB) into the agent for nothing.
    address = host.encode("ascii") if host.isascii() else host
    if url.scheme == "https":
        import socket
        import ssl

        if ssl_context is None:
            ssl_context = ssl.create_default_context()
        raw = socket.create_connection((address, port), timeout=timeout)
        try:
            sock = ssl_context.wrap_socket(raw, server_hostname=host)
        except BaseException:  # a failed handshake: the plain socket is ours to close
            raw.close()
            raise
    else:
        sock = connect(address, port, timeout)
    try:
        default_port = 443 if url.scheme == "https" else 80
        host_header = host if port == default_port else f"{host}:{port}"
        if ":" in host and not host.startswith("["):
            host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
        lines = [f"POST {path} HTTP/1.1", f"Host: {host_header}", f"Content-Length: {len(body)}",
                 "Connection: close"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)
        return _read_reply(_Reader(sock, deadline))
    finally:
        sock.close()


def connect(host: str | bytes, port: int, timeout: float) -> Any:
    """socket.create_connection on `_socket`: each address getaddrinfo gives, in turn; the first
    error when none connects."""
    errors: list[OSError] = []
    for family, kind, proto, _, address in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as e:
            sock.close()
            errors.append(e)
    raise errors[0] if errors else OSError(f"getaddrinfo returned no address for {host!r}")


def _read_reply(r: _Reader) -> Reply:
    while True:
        status_line = r.line()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP reply: {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = r.line()
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if status != 100:  # an interim "100 Continue" is followed by the real reply
            break
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line = r.line().split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_line[:20]!r}") from None
            if size == 0:
                break
            if len(body) + size > MAX_REPLY:
                raise ProtocolError("reply too large")
            body += r.exactly(size)
            r.exactly(2)
        return Reply(status, headers, body)
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        n = int(length)
        if n > MAX_REPLY:
            raise ProtocolError("reply too large")
        return Reply(status, headers, r.exactly(n))
    if status in (204, 304) or 100 <= status < 200:
        return Reply(status, headers, b"")
    return Reply(status, headers, r.rest(MAX_REPLY))
