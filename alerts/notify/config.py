"""Options of each channel type as pydantic models; `load` turns a YAML mapping into one.

Errors name the key the way operators know them: `notify.channels[0] (ding).timeout: not a duration`.
"""
from __future__ import annotations

import difflib
import re
import urllib.parse
from typing import Annotated, Any, ClassVar, Literal, Optional, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from alerts.notify.masking import MASK, SECRET_FIELDS, mask_url
from checks.options import ConfigError, parse_duration

M = TypeVar("M", bound="Options")
_NAME = re.compile(r"^[\w.-]+$")


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value  # a single address or pattern is a list of one


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    return value


Seconds = Annotated[float, BeforeValidator(parse_duration)]   # 30, "30s", "5m", "500ms"
Texts = Annotated[list[str], BeforeValidator(_listed)]
Count = Annotated[int, BeforeValidator(_no_bool)]


class Options(BaseModel):
    """A config section: unknown keys refused, numbers accepted where text is expected (YAML `password: 123`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)

    def check(self) -> None:
        """Rules across fields; raise ValueError with the message the operator sees."""

    @model_validator(mode="after")
    def _checked(self) -> Options:
        self.check()
        return self


def load(cls: type[M], data: Any, where: str) -> M:
    """Validate `data` as `cls`; every problem becomes a ConfigError prefixed with `where`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(cls, e.errors()[0], where)) from None


def _describe(cls: type[Options], error: Any, where: str) -> str:
    loc = [str(p) for p in error["loc"]]
    kind = error["type"]
    if kind == "extra_forbidden":
        known = [f.alias or n for n, f in cls.model_fields.items()]
        close = difflib.get_close_matches(loc[0], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"{where}: unknown option {loc[0]!r}{hint}"
    if kind == "value_error":
        message = str(error["ctx"]["error"])
    elif kind == "literal_error":
        message = f"must be one of {error['ctx']['expected']}, got {error['input']!r}"
    elif kind.startswith(("int_", "float_")):
        message = f"expected a number, got {error['input']!r}"
    elif kind.startswith("bool_"):
        message = f"expected true or false, got {error['input']!r}"
    elif kind.startswith("string_"):
        message = f"expected text, got {error['input']!r}"
    else:
        message = error["msg"]
    field = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc)
    return f"{where}{field}: {message}"


class ChannelOptions(Options):
    """Shared by all channels. Every field has a default; `check` enforces what a type requires."""

    name: str = ""
    type: str = ""
    prefix: str = "[巡检]"        # in subjects and robot titles; also fits a robot's keyword security
    rate_limit: Count = -1        # sends per rate_window; -1 = the channel type's default, 0 = unlimited
    rate_window: Seconds = 60.0
    timeout: Seconds = 10.0

    REQUIRED: ClassVar[tuple[str, ...]] = ()   # options a type cannot do without

    def check(self) -> None:
        if not self.name or not _NAME.match(self.name):
            raise ValueError(f"channel name {self.name!r}: use letters, digits, '_', '-' or '.'")
        for req in self.REQUIRED:
            if not getattr(self, req):
                raise ValueError(f"missing option {req!r}")
        if self.timeout <= 0 or self.rate_window <= 0:
            raise ValueError("timeout and rate_window must be positive")

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            if name in SECRET_FIELDS and value:
                value = MASK
            elif name in ("url", "proxy") and value:
                value = mask_url(value)
            elif name == "headers" and value:
                value = {k: MASK for k in value}
            yield name, value


class EmailOptions(ChannelOptions):
    host: str = ""
    port: Count = 0               # 0: 25, 587 with starttls, 465 with ssl
    security: Literal["none", "starttls", "ssl"] = "none"
    user: Optional[str] = None
    password: Optional[str] = None
    sender: str = Field("", alias="from")   # may be '巡检平台 <xunjian@example.cn>'
    to: Texts = []
    verify_tls: bool = True
    ca_file: Optional[str] = None
    local_hostname: Optional[str] = None
    timeout: Seconds = 30.0

    REQUIRED: ClassVar[tuple[str, ...]] = ("host", "sender", "to")

    def check(self) -> None:
        super().check()
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


class HttpOptions(ChannelOptions):
    url: str = ""
    verify_tls: bool = True
    ca_file: Optional[str] = None
    proxy: Optional[str] = None   # e.g. http://proxy.intranet:3128; none: connect directly

    REQUIRED: ClassVar[tuple[str, ...]] = ("url",)

    def check(self) -> None:
        super().check()
        for label, value in (("url", self.url), ("proxy", self.proxy)):
            if value:
                parts = urllib.parse.urlsplit(value)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    raise ValueError(f"{label} {mask_url(value)!r}: expected an http(s) URL")

    def _require_param(self, param: str) -> None:
        if param not in urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query):
            raise ValueError(f"url {mask_url(self.url)!r} has no {param}= parameter")


class DingTalkOptions(HttpOptions):
    secret: Optional[str] = None  # 加签 secret (SEC...); without it the robot must use keywords or IPs
    at_mobiles: Texts = []
    at_all: bool = False

    def check(self) -> None:
        super().check()
        self._require_param("access_token")


class FeishuOptions(HttpOptions):
    secret: Optional[str] = None  # 签名校验 secret


class WeComOptions(HttpOptions):
    key: Optional[str] = None     # instead of url: the webhook key alone

    REQUIRED: ClassVar[tuple[str, ...]] = ()
    BASE_URL: ClassVar[str] = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"

    def check(self) -> None:
        if self.key and not self.url:
            self.url = f"{self.BASE_URL}?key={urllib.parse.quote(self.key, safe='')}"
        if not self.url:
            raise ValueError("missing option 'url' (or 'key')")
        super().check()
        self._require_param("key")


class WebhookOptions(HttpOptions):
    token: Optional[str] = None         # sent as Authorization: Bearer <token>
    hmac_secret: Optional[str] = None   # signs "<timestamp>.<body>" into X-Xunjian-Signature
    headers: dict[str, str] = {}

    def check(self) -> None:
        super().check()
        for k in self.headers:
            if not re.match(r"^[A-Za-z0-9-]+$", k):
                raise ValueError(f"header name {k!r} is not valid")


class DigestOptions(Options):
    max_pending: Count = 5   # more waiting than this for one channel: send one digest instead
    max_lines: Count = 10    # lines listed in a digest

    def check(self) -> None:
        if self.max_pending < 1 or self.max_lines < 1:
            raise ValueError("max_pending and max_lines must be at least 1")
