"""Loopback stand-ins for the chat robots and a webhook receiver, for the notification tests.

Each fake checks requests the way the real service documents it (tokens, HMAC signatures,
timestamps, body shape, per-minute limits) and answers with the real service's reply shapes, so
the channels are tested against behaviour, not against their own code.

    with FakeService(dingtalk(token="t0k", secret="SECabc")) as svc:
        url = svc.url + "/robot/send?access_token=t0k"
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional, Union


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def param(self, name: str) -> Optional[str]:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    status: int = 200
    body: Union[dict[str, Any], bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Reply]


class FakeService:
    """A ThreadingHTTPServer on 127.0.0.1 (any free port) that records requests and asks `handler`."""

    def __init__(self, handler: Handler, context: Any = None) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        service = self

        class _H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request("POST", parts.path, urllib.parse.parse_qs(parts.query),
                              {k: v for k, v in self.headers.items()}, self.rfile.read(length))
                service.requests.append(req)
                reply = service.handler(req)
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.server.daemon_threads = True
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if context is not None else "http"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeService:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class _Window:
    """Per-minute message limit as the robots enforce it."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window, self.sent = limit, window, deque()  # type: deque[float]

    def admit(self) -> bool:
        now = time.monotonic()
        while self.sent and self.sent[0] <= now - self.window:
            self.sent.popleft()
        if len(self.sent) >= self.limit:
            return False
        self.sent.append(now)
        return True


def dingtalk(token: str, secret: Optional[str] = None, limit: int = 20) -> Handler:
    """DingTalk custom robot: access_token, 加签 (HmacSHA256(secret, ts+"\\n"+secret), Base64,
    URL-encoded; ts in ms within 1 hour), markdown body, 20 messages a minute (130101)."""
    window = _Window(limit)

    def handle(req: Request) -> Reply:
        if req.path != "/robot/send" or req.param("access_token") != token:
            return Reply(body={"errcode": 300001, "errmsg": "token is not exist"})
        if secret is not None:
            ts, sign = req.param("timestamp"), req.param("sign")  # parse_qs has URL-decoded sign
            if not ts or not sign or abs(int(ts) - time.time() * 1000) > 3600_000:
                return Reply(body={"errcode": 310000, "errmsg": "sign not match, more: timestamp"})
            want = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(),
                                             hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(want, sign):
                return Reply(body={"errcode": 310000, "errmsg": "sign not match"})
        body = req.json()
        md = body.get("markdown") or {}
        if body.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
            return Reply(body={"errcode": 40035, "errmsg": "缺少参数 json"})
        if not window.admit():
            return Reply(body={"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
        return Reply(body={"errcode": 0, "errmsg": "ok"})

    return handle


def feishu(hook: str, secret: Optional[str] = None, limit: int = 100) -> Handler:
    """Feishu custom robot: /open-apis/bot/v2/hook/<hook>, 签名校验 (HmacSHA256 with key
    ts+"\\n"+secret over an empty message, Base64; ts in seconds in the JSON body)."""
    window = _Window(limit)

    def handle(req: Request) -> Reply:
        if req.path != f"/open-apis/bot/v2/hook/{hook}":
            return Reply(status=404, body={"code": 19001,
                                           "msg": "param invalid: incoming webhook access token invalid"})
        body = req.json()
        if secret is not None:
            ts, sign = body.get("timestamp"), body.get("sign")
            want = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
            if not ts or not sign or abs(int(ts) - time.time()) > 3600 or not hmac.compare_digest(want, sign):
                return Reply(body={"code": 19021, "data": {},
                                   "msg": "sign match fail or timestamp is not within one hour from current time"})
        if body.get("msg_type") != "interactive" or "card" not in body:
            return Reply(body={"code": 9499, "data": {}, "msg": "Bad Request"})
        if not window.admit():
            return Reply(body={"code": 11232, "data": {}, "msg": "frequency limited"})
        return Reply(body={"code": 0, "data": {}, "msg": "success"})

    return handle


def wecom(key: str, limit: int = 20) -> Handler:
    """WeCom group robot: /cgi-bin/webhook/send?key=<key>, markdown content <= 4096 bytes, 20 a minute."""
    window = _Window(limit)

    def handle(req: Request) -> Reply:
        if req.path != "/cgi-bin/webhook/send" or req.param("key") != key:
            return Reply(body={"errcode": 93000, "errmsg": "invalid webhook url"})
        body = req.json()
        content = (body.get("markdown") or {}).get("content", "")
        if body.get("msgtype") != "markdown" or not content:
            return Reply(body={"errcode": 40008, "errmsg": "invalid message type"})
        if len(content.encode("utf-8")) > 4096:
            return Reply(body={"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"})
        if not window.admit():
            return Reply(body={"errcode": 45009, "errmsg": "api freq out of limit"})
        return Reply(body={"errcode": 0, "errmsg": "ok"})

    return handle


def webhook_receiver(token: Optional[str] = None, hmac_secret: Optional[str] = None) -> Handler:
    """A receiver that checks the bearer token and X-Xunjian-Signature over the raw body."""

    def handle(req: Request) -> Reply:
        headers = {k.lower(): v for k, v in req.headers.items()}
        if token is not None and headers.get("authorization") != f"Bearer {token}":
            return Reply(status=401, body={"error": "unauthorized"})
        if hmac_secret is not None:
            ts = headers.get("x-xunjian-timestamp", "")
            mac = hmac.new(hmac_secret.encode(), f"{ts}.".encode() + req.body, hashlib.sha256).hexdigest()
            if not ts or not hmac.compare_digest(f"sha256={mac}", headers.get("x-xunjian-signature", "")):
                return Reply(status=403, body={"error": "bad signature"})
        req.json()
        return Reply(status=204)

    return handle


def scripted(*replies: Reply, delay: float = 0.0) -> Handler:
    """Answer with `replies` in turn (the last one repeats), optionally after `delay` seconds."""
    queue = list(replies)

    def handle(req: Request) -> Reply:
        if delay:
            time.sleep(delay)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle
