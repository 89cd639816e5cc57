"""POST JSON with httpx, one client per channel, and map replies to DeliveryResults."""
from __future__ import annotations

import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

import httpx

from alerts.notify.base import Channel, DeliveryResult, tls_context
from alerts.notify.config import HttpOptions
from checks.retry_after import parse_retry_after

USER_AGENT = "xunjian-notify/1"


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Optional[dict[str, Any]]:
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def excerpt(self, limit: int = 200) -> str:
        return self.body[:limit].decode("utf-8", errors="replace").strip()


def make_client(options: HttpOptions) -> httpx.Client:
    """Built once per channel: building clients and TLS contexts costs more than a loopback POST.

    A redirected POST could carry the token elsewhere, so redirects are answers, not followed;
    proxies come from the options only, never from the environment.
    """
    verify: ssl.SSLContext | bool = tls_context(options.ca_file, options.verify_tls)
    return httpx.Client(proxy=options.proxy or None, verify=verify, follow_redirects=False, trust_env=False,
                        timeout=options.timeout, headers={"User-Agent": USER_AGENT})


def _cert_error(exc: BaseException) -> Optional[ssl.SSLCertVerificationError]:
    seen: Optional[BaseException] = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class HttpChannel(Channel):
    """A channel that POSTs JSON; subclasses build the request and read the service's answer."""

    options: HttpOptions
    rate_backoff: float = 60.0   # retry_after when the service says "too many" without saying how long

    def _client(self) -> httpx.Client:
        client = getattr(self, "_cached_client", None)
        if client is None:
            client = self._cached_client = make_client(self.options)
        return client

    def _post_json(self, url: str, payload: Any, headers: Optional[Mapping[str, str]] = None,
                   ) -> tuple[Optional[HttpReply], Optional[DeliveryResult]]:
        """(reply, None), or (None, retryable result) when the service could not be reached."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        try:
            resp = self._client().post(url, content=body, headers=all_headers)
        except httpx.HTTPError as e:  # refused, reset, timed out, bad status line, TLS
            bad_cert = _cert_error(e)
            if bad_cert is not None:  # a config problem, not a passing one
                return None, DeliveryResult.failed(f"{self.label}证书校验失败: {bad_cert.verify_message}")
            return None, DeliveryResult.retry(f"{self.label}连接失败: {type(e).__name__}: {e}")
        return HttpReply(resp.status_code, resp.headers, resp.content), None

    def _by_status(self, reply: HttpReply, what: str = "") -> DeliveryResult:
        """Judge a reply by its HTTP status alone: 2xx sent, 429/408/5xx retry, other 4xx and 3xx give up."""
        status = reply.status
        what = what or reply.excerpt()
        if 200 <= status < 300:
            return DeliveryResult.sent(status=status)
        retry_after = parse_retry_after(reply.headers.get("Retry-After"), time.time())
        if status == 429:
            return DeliveryResult.retry(f"{self.label}限流 (HTTP 429): {what}",
                                        retry_after if retry_after is not None else self.rate_backoff, status)
        if status in (408, 425) or status >= 500:
            return DeliveryResult.retry(f"{self.label}服务端错误 (HTTP {status}): {what}",
                                        retry_after, status)
        return DeliveryResult.failed(f"{self.label}拒绝请求 (HTTP {status}): {what}", status)


class RobotChannel(HttpChannel):
    """Chat robots answer HTTP 200 with an error code in JSON: 0 is success, some codes mean slow down."""

    code_fields: tuple[str, ...] = ("errcode",)
    message_fields: tuple[str, ...] = ("errmsg",)
    rate_codes: frozenset[int] = frozenset()
    retry_codes: frozenset[int] = frozenset({-1})   # "system busy"

    def _judge(self, reply: Optional[HttpReply], failure: Optional[DeliveryResult]) -> DeliveryResult:
        if reply is None:
            assert failure is not None
            return failure
        data = reply.json()
        code = None
        if data is not None:
            code = next((data[f] for f in self.code_fields if f in data), None)
        if not isinstance(code, int) or isinstance(code, bool):
            if 200 <= reply.status < 300:
                return DeliveryResult.failed(f"{self.label}应答无法识别: {reply.excerpt()}", reply.status)
            return self._by_status(reply)
        assert data is not None
        msg = next((str(data[f]) for f in self.message_fields if f in data), "")
        if code == 0 and 200 <= reply.status < 300:
            return DeliveryResult.sent(status=0)
        if code in self.rate_codes or reply.status == 429:
            after = parse_retry_after(reply.headers.get("Retry-After"), time.time())
            return DeliveryResult.retry(f"{self.label}限流 {code}: {msg}",
                                        after if after is not None else self.rate_backoff, code)
        if code in self.retry_codes or reply.status >= 500:
            return DeliveryResult.retry(f"{self.label}暂时不可用 {code}: {msg}", None, code)
        return DeliveryResult.failed(f"{self.label}返回错误 {code}: {msg}", code)
