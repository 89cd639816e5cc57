"""A tiny real collector stand-in for the agent's tests and benchmark (stdlib http.server).

It speaks the wire contract (POST /api/v1/results, Bearer token, gzip) and can misbehave on
purpose: answer 500, hang, reset the connection, 429 with Retry-After, 413 above a batch size,
400 for a poisoned result, 422 naming refused results as the collector does (or naming none), or
reject some ids inside a 200 reply.
"""
from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

TOKEN = "test-token"


class Standin:
    def __init__(self, port: int = 0, token: str = TOKEN) -> None:
        self.port = port
        self.token = token
        self.tokens: set[str] = {token}        # every token accepted (one per agent in fleet tests)
        self.mode = "ok"            # ok | 500 | hang | reset | 429 | 401
        self.retry_after = "1"
        self.delay = 0.0            # seconds between storing a batch and answering (kill -9 window)
        self.max_batch: Optional[int] = None   # 413 above this many results
        self.poison: set[str] = set()          # check names answered with 400 when in a batch
        self.reject_checks: set[str] = set()   # check names rejected inside a 200 reply
        self.refuse_checks: set[str] = set()   # check names that make a batch 422, named in detail.errors
        self.refuse_named_by = ("index", "id")  # which of index/id each error carries (none: bisect)
        self.hang_release = threading.Event()
        self.health_checks = 0                 # GET /healthz answered
        self.lock = threading.Lock()
        self.results: dict[str, dict[str, Any]] = {}   # id -> result (dedup, as the collector)
        self.arrivals: Counter[str] = Counter()        # id -> times received in a 200-acked batch
        self.requests: list[dict[str, Any]] = []       # every request: code, agent block, n, gzip, time
        self._server: Optional[ThreadingHTTPServer] = None
        self.ssl_context: Any = None  # set before start(): the stand-in speaks https

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context is not None else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Standin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                standin._handle(self)

            def do_GET(self) -> None:  # /healthz, as the collector answers it
                if standin._get(self):
                    return
                standin.health_checks += 1
                self.send_response(200 if self.path == "/healthz" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        if self.ssl_context is not None:  # the handshake happens in the handler thread, at its first read
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True,
                                                         do_handshake_on_connect=False)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _get(self, h: BaseHTTPRequestHandler) -> bool:
        """Other GET paths (a subclass answers them); True when answered."""
        return False

    # -- what arrived ------------------------------------------------------------------------

    def seqs(self) -> list[int]:
        with self.lock:
            return sorted(r["seq"] for r in self.results.values() if r.get("seq") is not None)

    def ids_by_seq(self) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        with self.lock:
            for r in self.results.values():
                out.setdefault(r["seq"], set()).add(r["id"])
        return out

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return bool(predicate())

    # -- one request -------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length)
        gz = h.headers.get("Content-Encoding") == "gzip"
        mode = self.mode
        if mode == "reset":
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            h.close_connection = True
            self._log(0, None, 0, gz)
            return
        if mode == "hang":
            self.hang_release.wait(60)
            h.close_connection = True
            return
        if h.headers.get("Authorization") not in {f"Bearer {t}" for t in self.tokens} or mode == "401":
            return self._reply(h, 401, {"detail": "bad token"}, None, 0, gz)
        body = json.loads(gzip.decompress(raw) if gz else raw)
        results = body["results"]
        if mode == "500":
            return self._reply(h, 500, {"detail": "Internal ERROR"}, body, len(results), gz)
        if mode == "429":
            return self._reply(h, 429, {"detail": "slow down"}, body, len(results), gz,
                               {"Retry-After": self.retry_after})
        if self.max_batch is not None and len(results) > self.max_batch:
            return self._reply(h, 413, {"detail": "too large"}, body, len(results), gz)
        if any(r["check"] in self.poison for r in results):
            return self._reply(h, 400, {"detail": "bad result"}, body, len(results), gz)
        refused = [i for i, r in enumerate(results) if r["check"] in self.refuse_checks]
        if refused:
            errors = [{**({"index": i} if "index" in self.refuse_named_by else {}),
                       **({"id": results[i]["id"]} if "id" in self.refuse_named_by else {}),
                       "error": f"check {results[i]['check']} refused"} for i in refused]
            detail = {"message": f"{len(errors)} invalid result(s); nothing stored", "errors": errors}
            return self._reply(h, 422, {"detail": detail}, body, len(results), gz)
        rejected, accepted, dup = [], 0, 0
        with self.lock:
            for r in results:
                if r["check"] in self.reject_checks:
                    rejected.append({"id": r["id"], "error": "unknown system"})
                    continue
                self.arrivals[r["id"]] += 1
                if r["id"] in self.results:
                    dup += 1
                else:
                    self.results[r["id"]] = r
                    accepted += 1
        if self.delay:
            time.sleep(self.delay)
        self._reply(h, 200, {"accepted": accepted, "duplicates": dup, "rejected": rejected}, body,
                    len(results), gz)

    def _reply(self, h: BaseHTTPRequestHandler, code: int, payload: dict[str, Any], body: Any, n: int,
               gz: bool, headers: Optional[dict[str, str]] = None) -> None:
        self._log(code, body, n, gz)
        data = json.dumps(payload).encode()
        h.send_response(code)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _log(self, code: int, body: Any, n: int, gz: bool) -> None:
        with self.lock:
            self.requests.append({"code": code, "agent": (body or {}).get("agent"), "n": n, "gzip": gz,
                                  "time": time.monotonic()})


if __name__ == "__main__":  # a standalone receiver, e.g. for the benchmark or by hand
    import sys

    s = Standin(int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(s.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        s.stop()
