"""Build channels, routes and digest settings from the `notify:` section of the collector config
(an example with every channel type: docs/notifications.md)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from alerts.notify.base import Channel
from alerts.notify.config import DigestOptions, Options, load
from alerts.notify.mail import EmailChannel
from alerts.notify.robots import DingTalkChannel, FeishuChannel, WeComChannel
from alerts.notify.routing import Router, build_routes
from alerts.notify.webhook import WebhookChannel
from checks.options import ConfigError

CHANNEL_TYPES: dict[str, type[Channel]] = {
    c.type: c for c in (EmailChannel, DingTalkChannel, FeishuChannel, WeComChannel, WebhookChannel)
}


def build_channel(data: Any, where: str = "notify.channels[0]") -> Channel:
    """One channel from its mapping (`name`, `type` and the type's options)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    kind = data.get("type")
    if kind not in CHANNEL_TYPES:
        raise ConfigError(f"{where}.type: {kind!r} is not one of {', '.join(CHANNEL_TYPES)}")
    if data.get("name"):
        where = f"{where} ({data['name']})"
    cls = CHANNEL_TYPES[kind]
    return cls(load(cls.Options, data, where))


def build_channels(data: Any, where: str = "notify.channels") -> dict[str, Channel]:
    if data is None:
        return {}
    if not isinstance(data, list):
        raise ConfigError(f"{where}: expected a list of channels")
    channels: dict[str, Channel] = {}
    for i, item in enumerate(data):
        ch = build_channel(item, f"{where}[{i}]")
        if ch.name in channels:
            raise ConfigError(f"{where}[{i}]: channel name {ch.name!r} is used twice")
        channels[ch.name] = ch
    return channels


@dataclass(frozen=True)
class NotifyConfig:
    channels: Mapping[str, Channel]
    router: Router
    digest: DigestOptions


class NotifySection(Options):
    channels: Optional[list[Any]] = None   # each validated by its type's options in build_channel
    routes: Optional[list[Any]] = None
    digest: Optional[dict[str, Any]] = None


def build_notify(data: Any, where: str = "notify") -> NotifyConfig:
    """The whole `notify:` section; raises ConfigError naming the offending key."""
    section = load(NotifySection, data, where)
    channels = build_channels(section.channels, f"{where}.channels")
    router = build_routes(section.routes, channels, f"{where}.routes")
    digest = load(DigestOptions, section.digest, f"{where}.digest")
    return NotifyConfig(channels, router, digest)
