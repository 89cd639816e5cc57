"""Generic JSON webhook: POST the notification for any receiver (ITSM, SMS gateway, own scripts).

Body: `webhook_body(n)` (the notification's fields, zh-CN labels, subject and markdown).
Authentication, both optional:
- `token`: `Authorization: Bearer <token>`.
- `hmac_secret`: `X-Xunjian-Timestamp: <unix seconds>` and
  `X-Xunjian-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>`; the receiver
  recomputes it over the raw bytes and rejects old timestamps (replays).
Any 2xx is success; 429 and 5xx are retried (honouring Retry-After), other statuses are permanent.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Optional

from alerts.notify.base import DeliveryResult
from alerts.notify.config import WebhookOptions
from alerts.notify.http import HttpChannel
from alerts.notify.message import Notification, webhook_body

SIGNATURE_HEADER = "X-Xunjian-Signature"
TIMESTAMP_HEADER = "X-Xunjian-Timestamp"


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookChannel(HttpChannel):
    type = "webhook"
    label = "Webhook "
    Options = WebhookOptions
    options: WebhookOptions

    def render(self, n: Notification) -> dict[str, Any]:
        return webhook_body(n, self.options.prefix)

    def secrets(self) -> list[str]:
        values = super().secrets()
        for k, v in self.options.headers.items():
            if k.lower() in ("authorization", "x-api-key", "api-key", "x-auth-token"):
                values.append(v)
        return values

    def _send(self, n: Notification, now_s: Optional[int] = None) -> DeliveryResult:
        body = json.dumps(self.render(n), ensure_ascii=False).encode("utf-8")
        headers = dict(self.options.headers)
        if self.options.token:
            headers["Authorization"] = f"Bearer {self.options.token}"
        if self.options.hmac_secret:
            ts = now_s or int(time.time())
            headers[TIMESTAMP_HEADER] = str(ts)
            headers[SIGNATURE_HEADER] = webhook_signature(self.options.hmac_secret, ts, body)
        reply, failure = self._post_json(self.options.url, body, headers)
        if reply is None:
            assert failure is not None
            return failure
        return self._by_status(reply)
