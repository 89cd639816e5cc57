"""Options of each channel type, validated with checks.options.build (no pydantic).

All option classes live in this one module: `build` resolves type hints in the module of the class.
"""
from __future__ import annotations

import dataclasses
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Optional

from alerts.notify.masking import MASK, SECRET_FIELDS, mask_url
from checks.options import Duration

_NAME = re.compile(r"^[\w.-]+$")
_MINUTE, _TEN_S, _HALF_MINUTE = Duration(60.0), Duration(10.0), Duration(30.0)


@dataclass(repr=False)
class ChannelOptions:
    """Shared by all channels. Every field has a default; `validate` enforces what a type requires."""

    name: str = ""
    type: str = ""
    prefix: str = "[巡检]"        # in subjects and robot titles; also fits a robot's keyword security
    rate_limit: int = -1          # sends per rate_window; -1 = the channel type's default, 0 = unlimited
    rate_window: Duration = _MINUTE
    timeout: Duration = _TEN_S

    REQUIRED: ClassVar[tuple[str, ...]] = ()   # options a type cannot do without

    def validate(self) -> None:
        if not self.name or not _NAME.match(self.name):
            raise ValueError(f"channel name {self.name!r}: use letters, digits, '_', '-' or '.'")
        for req in self.REQUIRED:
            if not getattr(self, req):
                raise ValueError(f"missing option {req!r}")
        if self.timeout <= 0 or self.rate_window <= 0:
            raise ValueError("timeout and rate_window must be positive")

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = MASK
            elif f.name in ("url", "proxy") and value:
                value = mask_url(value)
            elif f.name == "headers" and value:
                value = {k: MASK for k in value}
            shown.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(repr=False)
class EmailOptions(ChannelOptions):
    host: str = ""
    port: int = 0                 # 0: 25, 587 with starttls, 465 with ssl
    security: Literal["none", "starttls", "ssl"] = "none"
    user: Optional[str] = None
    password: Optional[str] = None
    sender: str = ""              # `from` in YAML; may be '巡检平台 <xunjian@example.cn>'
    to: list[str] = field(default_factory=list)
    verify_tls: bool = True
    ca_file: Optional[str] = None
    local_hostname: Optional[str] = None
    timeout: Duration = _HALF_MINUTE

    ALIASES: ClassVar[dict[str, str]] = {"from": "sender"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("host", "sender", "to")

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} out of range")
        for addr in [self.sender, *self.to]:
            if "@" not in addr:
                raise ValueError(f"not a mail address: {addr!r}")
        if bool(self.user) != bool(self.password):
            raise ValueError("user and password go together")

    @property
    def effective_port(self) -> int:
        return self.port or {"none": 25, "starttls": 587, "ssl": 465}[self.security]


@dataclass(repr=False)
class HttpOptions(ChannelOptions):
    url: str = ""
    verify_tls: bool = True
    ca_file: Optional[str] = None
    proxy: Optional[str] = None   # e.g. http://proxy.intranet:3128; none: connect directly

    REQUIRED: ClassVar[tuple[str, ...]] = ("url",)

    def validate(self) -> None:
        super().validate()
        for label, value in (("url", self.url), ("proxy", self.proxy)):
            if value:
                parts = urllib.parse.urlsplit(value)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise ValueError(f"{label} {mask_url(value)!r}: expected an http(s) URL")

    def _require_param(self, param: str) -> None:
        if param not in urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query):
            raise ValueError(f"url {mask_url(self.url)!r} has no {param}= parameter")


@dataclass(repr=False)
class DingTalkOptions(HttpOptions):
    secret: Optional[str] = None  # 加签 secret (SEC...); without it the robot must use keywords or IPs
    at_mobiles: list[str] = field(default_factory=list)
    at_all: bool = False

    def validate(self) -> None:
        super().validate()
        self._require_param("access_token")


@dataclass(repr=False)
class FeishuOptions(HttpOptions):
    secret: Optional[str] = None  # 签名校验 secret


@dataclass(repr=False)
class WeComOptions(HttpOptions):
    key: Optional[str] = None     # instead of url: the webhook key alone

    REQUIRED: ClassVar[tuple[str, ...]] = ()
    BASE_URL: ClassVar[str] = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"

    def __post_init__(self) -> None:
        if self.key and not self.url:
            self.url = f"{self.BASE_URL}?key={urllib.parse.quote(self.key, safe='')}"

    def validate(self) -> None:
        if not self.url:
            raise ValueError("missing option 'url' (or 'key')")
        super().validate()
        self._require_param("key")


@dataclass(repr=False)
class WebhookOptions(HttpOptions):
    token: Optional[str] = None         # sent as Authorization: Bearer <token>
    hmac_secret: Optional[str] = None   # signs "<timestamp>.<body>" into X-Xunjian-Signature
    headers: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        super().validate()
        for k in self.headers:
            if not re.match(r"^[A-Za-z0-9-]+$", k):
                raise ValueError(f"header name {k!r} is not valid")
