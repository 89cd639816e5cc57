"""What every channel shares: the delivery result, the channel base class, secret masking."""
from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from alerts.notify.config import ChannelOptions
from alerts.notify.masking import SECRET_FIELDS, mask_url, scrub, url_secrets
from alerts.notify.message import Notification
from alerts.notify.ratelimit import RateLimit


@dataclass(frozen=True)
class DeliveryResult:
    """ok, or why not: retry later (after retry_after seconds when the service said so) or give up."""

    ok: bool
    retry_after: Optional[float] = None
    error: str = ""          # zh-CN, secrets masked; may be set on ok for partial mail delivery
    permanent: bool = False  # True: retrying the same message cannot succeed (bad config, 4xx, refused)
    status: Optional[int] = None  # HTTP status, SMTP reply code or the robot's errcode, when known

    @property
    def retryable(self) -> bool:
        return not self.ok and not self.permanent

    @classmethod
    def sent(cls, note: str = "", status: Optional[int] = None) -> DeliveryResult:
        return cls(ok=True, error=note, status=status)

    @classmethod
    def retry(cls, error: str, retry_after: Optional[float] = None,
              status: Optional[int] = None) -> DeliveryResult:
        return cls(ok=False, retry_after=retry_after, error=error, status=status)

    @classmethod
    def failed(cls, error: str, status: Optional[int] = None) -> DeliveryResult:
        return cls(ok=False, error=error, permanent=True, status=status)


def tls_context(ca_file: Optional[str], verify: bool) -> ssl.SSLContext:
    """System CAs (or ca_file, e.g. a customer's private CA); verify=False only for lab setups."""
    ctx = ssl.create_default_context(cafile=ca_file)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Channel:
    """A named way to reach people. `send` never raises: every failure is a DeliveryResult."""

    type: ClassVar[str] = ""
    label: ClassVar[str] = ""                  # zh-CN, for the console and error texts
    Options: ClassVar[type[ChannelOptions]] = ChannelOptions
    default_rate: ClassVar[RateLimit] = RateLimit(0, 60.0)

    def __init__(self, options: ChannelOptions) -> None:
        self.options = options
        self.name = options.name

    @property
    def rate_limit(self) -> RateLimit:
        o = self.options
        return self.default_rate if o.rate_limit < 0 else RateLimit(o.rate_limit, o.rate_window)

    def secrets(self) -> list[str]:
        """Strings that must never leave this object in logs or error texts."""
        values: list[str] = []
        for f in SECRET_FIELDS:
            v = getattr(self.options, f, None)
            if v:
                values.append(str(v))
        url = getattr(self.options, "url", "")
        if url:
            values += url_secrets(url)
        return values

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets())

    def render(self, n: Notification) -> Any:
        """The body this channel would send (for previews and tests)."""
        raise NotImplementedError

    def send(self, n: Notification) -> DeliveryResult:
        return self.guarded(self._send, n)

    def guarded(self, fn: Callable[..., DeliveryResult], *args: Any, **kwargs: Any) -> DeliveryResult:
        """fn's result, never an exception, with secrets scrubbed from its error text."""
        try:
            result = fn(*args, **kwargs)
        except Exception as e:  # a bug must not kill the outbox worker; retry and show it
            result = DeliveryResult.retry(f"内部错误: {type(e).__name__}: {e}")
        if result.error:
            result = dataclasses.replace(result, error=self.scrub(result.error))
        return result

    def _send(self, n: Notification) -> DeliveryResult:
        raise NotImplementedError

    def __repr__(self) -> str:
        url = getattr(self.options, "url", "")
        where = f", url={mask_url(url)!r}" if url else ""
        return f"{type(self).__name__}(name={self.name!r}{where})"
