"""HTTP(S) check with the standard library only: status, body regex, response time, certificate days.

No httpx/requests: the agent stays small. The body is read up to `max_body` bytes, never more.
"""
from __future__ import annotations

import http.client
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlsplit

from checks.base import Check, Outcome
from checks.model import Metric, Status, worst
from checks.options import Duration, Size, Threshold
from checks.thresholds import as_text, evaluate
from checks.tls import CertInfo, fetch_peer_der, info_from_der, info_from_ssl_dict, judge_expiry
from checks.urls import hide_password, split_credentials

_STATUS_SPEC = re.compile(r"^\s*(\d{3})\s*(?:-\s*(\d{3}))?\s*$")


def parse_status_spec(spec: str) -> tuple[int, int]:
    """'200' -> (200, 200); '200-399' -> (200, 399); '2xx' -> (200, 299)."""
    s = str(spec).strip().lower()
    if re.fullmatch(r"[1-5]xx", s):
        base = int(s[0]) * 100
        return base, base + 99
    m = _STATUS_SPEC.match(s)
    if not m:
        raise ValueError(f"not a status code or range: {spec!r} (use 200, 200-399 or 2xx)")
    lo = int(m.group(1))
    hi = int(m.group(2) or lo)
    if lo > hi:
        raise ValueError(f"status range {spec!r} is reversed")
    return lo, hi


@dataclass
class HttpOptions:
    url: str
    method: str = "GET"
    expect_status: list[str] = field(default_factory=lambda: ["200-399"])
    expect_body: Optional[str] = None          # regex searched in the first `max_body` bytes
    headers: dict[str, str] = field(default_factory=dict)
    body: Optional[str] = None                 # request body (UTF-8)
    request_timeout: Duration = 10.0
    verify: bool = True
    ca_file: Optional[str] = None
    max_body: Size = 64 * 1024
    warn: Optional[Threshold] = None           # on response_seconds
    crit: Optional[Threshold] = None
    cert_warn_days: float = 30.0
    cert_crit_days: float = 7.0

    def validate(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url {self.url!r} must be http://host/... or https://host/...")
        for spec in self.expect_status:
            parse_status_spec(spec)
        if self.expect_body is not None:
            try:
                re.compile(self.expect_body)
            except re.error as e:
                raise ValueError(f"expect_body is not a valid regex: {e}") from None
        if self.request_timeout <= 0:
            raise ValueError("request_timeout must be positive")


class HttpCheck(Check):
    type = "http"
    Options = HttpOptions

    def run(self) -> Outcome:
        o: HttpOptions = self.options
        parts = urlsplit(o.url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": "xunjian-agent", **split_credentials(o.url)[1], **o.headers}
        conn: http.client.HTTPConnection
        if https:
            conn = http.client.HTTPSConnection(host, port, timeout=o.request_timeout,
                                               context=self._context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=o.request_timeout)
        t0 = time.monotonic()
        try:
            conn.connect()  # explicit: the socket is gone once a closing response is read
            cert = self._peer_cert(conn) if https else None
            conn.request(o.method.upper(), path, body=None if o.body is None else o.body.encode("utf-8"),
                         headers=headers)
            resp = conn.getresponse()
            body = resp.read(o.max_body)
            elapsed = time.monotonic() - t0
        except ssl.SSLCertVerificationError as e:
            return self._verify_failed(host, port, e)
        except ConnectionRefusedError:
            return Outcome(Status.CRITICAL, f"HTTP {hide_password(o.url)} 连接被拒绝")
        except socket.timeout:
            return Outcome(Status.CRITICAL, f"HTTP {hide_password(o.url)} 请求超时 ({o.request_timeout:g} 秒)")
        except (OSError, http.client.HTTPException) as e:
            return Outcome(Status.CRITICAL, f"HTTP {hide_password(o.url)} 请求失败: {type(e).__name__}: {e}")
        finally:
            conn.close()
        return self._judge(resp.status, resp.reason, body, elapsed, cert)

    def _context(self) -> ssl.SSLContext:
        o: HttpOptions = self.options
        if not o.verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        return ssl.create_default_context(cafile=o.ca_file)

    @staticmethod
    def _peer_cert(conn: http.client.HTTPConnection) -> Optional[CertInfo]:
        sock = conn.sock
        if not isinstance(sock, ssl.SSLSocket):
            return None
        d = sock.getpeercert()
        if d:
            return info_from_ssl_dict(d)
        der = sock.getpeercert(binary_form=True)  # unverified: only the DER is available
        try:
            return info_from_der(der) if der else None
        except ImportError:  # without the `cert` extra the days are simply not measured
            return None

    def _judge(self, code: int, reason: str, body: bytes, elapsed: float,
               cert: Optional[CertInfo]) -> Outcome:
        o: HttpOptions = self.options
        metrics = [Metric("response_seconds", round(elapsed, 6), "s", warn=as_text(o.warn),
                          crit=as_text(o.crit), min=0),
                   Metric("status_code", code)]
        parts = [f"HTTP {code} {reason}".rstrip() + f", 耗时 {elapsed * 1000:.0f} 毫秒"]
        statuses = [evaluate(elapsed, o.warn, o.crit)]
        if not any(lo <= code <= hi for lo, hi in map(parse_status_spec, o.expect_status)):
            statuses.append(Status.CRITICAL)
            parts.append(f"状态码 {code} 不在期望范围 {', '.join(o.expect_status)} 内")
        if o.expect_body is not None:
            text = body.decode("utf-8", "replace")
            if re.search(o.expect_body, text):
                parts.append("响应内容匹配")
            else:
                statuses.append(Status.CRITICAL)
                parts.append(f"响应内容 (前 {len(body)} 字节) 不匹配 {o.expect_body!r}")
        details: dict[str, Any] = {"url": hide_password(o.url), "status_code": code, "body_bytes_read": len(body)}
        if cert is not None:
            st, text, m = judge_expiry(cert, _label(cert), "cert_days_left", o.cert_warn_days,
                                       o.cert_crit_days)
            metrics.append(m)
            statuses.append(st)
            parts.append(text)
            details["cert"] = cert.to_details()
        return Outcome(worst(statuses), ", ".join(parts), metrics, details)

    def _verify_failed(self, host: str, port: int, err: ssl.SSLCertVerificationError) -> Outcome:
        o: HttpOptions = self.options
        reason = err.verify_message or str(err)
        summary = f"HTTPS {hide_password(o.url)} 证书校验失败: {reason}"
        metrics: list[Metric] = []
        details: dict[str, Any] = {"url": hide_password(o.url), "verify_error": reason}
        try:  # still read the certificate: "expired 3 days ago" is what the operator needs
            cert = info_from_der(fetch_peer_der(host, port, server_name=host,
                                                timeout=o.request_timeout))
        except (OSError, ImportError, ValueError):
            cert = None
        if cert is not None:
            _, text, m = judge_expiry(cert, _label(cert), "cert_days_left", o.cert_warn_days,
                                      o.cert_crit_days)
            metrics.append(m)
            summary += f"; {text}"
            details["cert"] = cert.to_details()
        return Outcome(Status.CRITICAL, summary, metrics, details)


def _label(cert: CertInfo) -> str:
    return f"CN={cert.subject_cn}" if cert.subject_cn else cert.subject

