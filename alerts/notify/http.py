"""POST JSON with the standard library only (alerts stays light), and map replies to DeliveryResults."""
from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Optional

from alerts.notify.base import Channel, DeliveryResult, tls_context
from alerts.notify.config import HttpOptions

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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would become a GET and could carry the token elsewhere: treat it as a failure.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def make_opener(proxy: Optional[str] = None,
                context: Optional[ssl.SSLContext] = None) -> urllib.request.OpenerDirector:
    """Built once per channel: building openers and TLS contexts costs more than a loopback POST."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}),  # never env proxies
        _NoRedirect(),
        urllib.request.HTTPSHandler(context=context),
    )


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float,
         opener: Optional[urllib.request.OpenerDirector] = None) -> HttpReply:
    """POST and return whatever the server answered (any status); raises OSError when there is no answer."""
    opener = opener or make_opener()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"User-Agent": USER_AGENT, **headers})
    try:
        with opener.open(request, timeout=timeout) as resp:
            return HttpReply(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as e:  # an answer with a non-2xx status
        with e:
            return HttpReply(e.code, dict(e.headers.items()) if e.headers else {}, e.read())


def retry_after_seconds(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """Retry-After as delay-seconds or an HTTP-date (RFC 9110 10.2.3); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _header(reply: HttpReply, name: str) -> Optional[str]:
    for k, v in reply.headers.items():
        if k.lower() == name.lower():
            return v
    return None


class HttpChannel(Channel):
    """A channel that POSTs JSON; subclasses build the request and read the service's answer."""

    options: HttpOptions
    rate_backoff: float = 60.0   # retry_after when the service says "too many" without saying how long

    def _opener(self) -> urllib.request.OpenerDirector:
        opener = getattr(self, "_cached_opener", None)
        if opener is None:
            o = self.options
            context = tls_context(o.ca_file, o.verify_tls) if o.url.startswith("https:") else None
            opener = self._cached_opener = make_opener(o.proxy, context)
        return opener

    def _post_json(self, url: str, payload: Any, headers: Optional[Mapping[str, str]] = None,
                   ) -> tuple[Optional[HttpReply], Optional[DeliveryResult]]:
        """(reply, None), or (None, retryable result) when the service could not be reached."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        try:
            reply = post(url, body, all_headers, self.options.timeout, self._opener())
        except urllib.error.URLError as e:
            if isinstance(e.reason, ssl.SSLCertVerificationError):  # a config problem, not a passing one
                return None, DeliveryResult.failed(f"{self.label}证书校验失败: {e.reason.verify_message}")
            return None, DeliveryResult.retry(f"{self.label}连接失败: {e.reason}")
        except (OSError, http.client.HTTPException) as e:  # refused, reset, timed out, bad status line
            return None, DeliveryResult.retry(f"{self.label}连接失败: {type(e).__name__}: {e}")
        return reply, None

    def _by_status(self, reply: HttpReply, what: str = "") -> DeliveryResult:
        """Judge a reply by its HTTP status alone: 2xx sent, 429/408/5xx retry, other 4xx and 3xx give up."""
        status = reply.status
        what = what or reply.excerpt()
        if 200 <= status < 300:
            return DeliveryResult.sent(status=status)
        retry_after = retry_after_seconds(_header(reply, "Retry-After"))
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
            after = retry_after_seconds(_header(reply, "Retry-After"))
            return DeliveryResult.retry(f"{self.label}限流 {code}: {msg}",
                                        after if after is not None else self.rate_backoff, code)
        if code in self.retry_codes or reply.status >= 500:
            return DeliveryResult.retry(f"{self.label}暂时不可用 {code}: {msg}", None, code)
        return DeliveryResult.failed(f"{self.label}返回错误 {code}: {msg}", code)
