"""The results stand-in plus `GET /api/v1/agent/config` as issue 23's contract states it.

`doc` is the version every token gets (None: 404, as an older collector); `raw` replaces the reply
body with bytes as they are (hostile replies), with `raw_etag` as its ETag.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional

from tests.agent.standin import Standin

CONFIG_PATH = "/api/v1/agent/config"


class CentralStandin(Standin):
    def __init__(self, port: int = 0, token: str = "test-token") -> None:
        super().__init__(port, token)
        self.doc: Optional[dict[str, Any]] = None
        self.raw: Optional[bytes] = None
        self.raw_etag: Optional[str] = None
        self.gets: list[dict[str, Any]] = []   # token, if_none_match, code, time
        self.gets_lock = threading.Lock()

    def set_doc(self, version: str, checks: list[dict[str, Any]], template: str = "base") -> None:
        self.raw = None
        self.doc = {"version": version, "checks": checks,
                    "sources": {c["name"]: f"{template}@v{version.lstrip('v')}" for c in checks}}

    def _get(self, h: BaseHTTPRequestHandler) -> bool:
        if h.path != CONFIG_PATH:
            return False
        auth = h.headers.get("Authorization") or ""
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        inm = h.headers.get("If-None-Match")
        doc, raw = self.doc, self.raw
        if token not in self.tokens:
            code, body, etag = 401, b'{"detail":"bad token"}', None
        elif raw is not None:
            code, body, etag = 200, raw, self.raw_etag
        elif doc is None:
            code, body, etag = 404, b'{"detail":"Not Found"}', None
        elif inm == f'"{doc["version"]}"':
            code, body, etag = 304, b"", doc["version"]
        else:
            code, body, etag = 200, json.dumps(doc, ensure_ascii=False).encode(), doc["version"]
        with self.gets_lock:
            self.gets.append({"token": token, "if_none_match": inm, "code": code, "time": time.monotonic()})
        h.send_response(code)
        if etag is not None:
            h.send_header("ETag", f'"{etag}"')
        if code != 304:
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body:
            try:
                h.wfile.write(body)
            except OSError:  # the agent stopped reading a huge body: as it should
                pass
        h.close_connection = True
        return True

    def config_gets(self, token: Optional[str] = None) -> list[dict[str, Any]]:
        with self.gets_lock:
            return [g for g in self.gets if token is None or g["token"] == token]

    def last_block(self, host: str) -> Optional[dict[str, Any]]:
        """The agent block of the last results request from `host`."""
        with self.lock:
            for r in reversed(self.requests):
                agent = r.get("agent") or {}
                if agent.get("host") == host:
                    return agent
        return None
