"""Group-chat robots: DingTalk (钉钉), Feishu/Lark (飞书) and WeCom (企业微信) custom robots.

Sources for the signing algorithms, bodies and error codes (the robots' public docs, as quoted in
many guides):
- DingTalk 自定义机器人 (open.dingtalk.com/document/robots/customize-robot-security-settings): 加签 =
  HmacSHA256 with the secret as key over "timestamp\\nsecret" (timestamp in ms, within 1 hour),
  Base64, then urlEncode (UTF-8); sent as &timestamp=...&sign=... on the webhook URL. Reply
  {"errcode": 0, "errmsg": "ok"}; 310000 = sign/keyword/IP check failed; 130101 = "send too fast":
  more than 20 messages a minute, and the robot is then throttled for 10 minutes.
- Feishu 自定义机器人 签名校验 (open.feishu.cn/document/client-docs/bot-v3/add-custom-bot): the string
  "timestamp\\nsecret" is the HmacSHA256 *key* and the message is empty; Base64; timestamp (seconds)
  and sign go into the JSON body. Reply {"code": 0, "msg": "success"} (older: StatusCode 0);
  19021 = sign mismatch or timestamp older than 1 hour. Limit 100 messages a minute and 5 a
  second; 11232 "frequency limited" and 9499 "too many request" are treated as rate limiting.
- WeCom 群机器人 (developer.work.weixin.qq.com/document/path/91770): POST to
  .../webhook/send?key=KEY, {"msgtype": "markdown", "markdown": {"content": ...}} (content at most
  4096 bytes); at most 20 messages a minute; reply errcode 0, 45009 = "api freq out of limit",
  93000 = invalid webhook URL.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from typing import Any, Optional

from alerts.notify.base import DeliveryResult
from alerts.notify.config import DingTalkOptions, FeishuOptions, WeComOptions
from alerts.notify.http import RobotChannel
from alerts.notify.message import Notification, dingtalk_body, feishu_body, wecom_body
from alerts.notify.ratelimit import RateLimit


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Base64 of HmacSHA256(key=secret, msg="timestamp\\nsecret") (not yet URL-encoded)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    sign = dingtalk_sign(secret, timestamp_ms)
    query = urllib.parse.urlencode({"timestamp": str(timestamp_ms), "sign": sign})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Base64 of HmacSHA256(key="timestamp\\nsecret", msg=b"")."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkChannel(RobotChannel):
    type = "dingtalk"
    label = "钉钉"
    Options = DingTalkOptions
    options: DingTalkOptions
    default_rate = RateLimit(20, 60.0)
    rate_backoff = 600.0  # DingTalk throttles an over-eager robot for 10 minutes
    rate_codes = frozenset({130101})

    def render(self, n: Notification) -> dict[str, Any]:
        o = self.options
        return dingtalk_body(n, o.prefix, tuple(o.at_mobiles), o.at_all)

    def _send(self, n: Notification, now_ms: Optional[int] = None) -> DeliveryResult:
        url = self.options.url
        if self.options.secret:
            url = dingtalk_signed_url(url, self.options.secret, now_ms or int(time.time() * 1000))
        return self._judge(*self._post_json(url, self.render(n)))


class FeishuChannel(RobotChannel):
    type = "feishu"
    label = "飞书"
    Options = FeishuOptions
    options: FeishuOptions
    default_rate = RateLimit(100, 60.0)
    code_fields = ("code", "StatusCode")
    message_fields = ("msg", "StatusMessage")
    rate_codes = frozenset({11232, 9499})

    def render(self, n: Notification) -> dict[str, Any]:
        return feishu_body(n, self.options.prefix)

    def _send(self, n: Notification, now_s: Optional[int] = None) -> DeliveryResult:
        body = self.render(n)
        if self.options.secret:
            ts = now_s or int(time.time())
            body = {"timestamp": str(ts), "sign": feishu_sign(self.options.secret, ts), **body}
        return self._judge(*self._post_json(self.options.url, body))


class WeComChannel(RobotChannel):
    type = "wecom"
    label = "企业微信"
    Options = WeComOptions
    options: WeComOptions
    default_rate = RateLimit(20, 60.0)
    rate_codes = frozenset({45009})

    def render(self, n: Notification) -> dict[str, Any]:
        return wecom_body(n, self.options.prefix)

    def _send(self, n: Notification) -> DeliveryResult:
        return self._judge(*self._post_json(self.options.url, self.render(n)))
