"""Build channels, routes and digest settings from the `notify:` section of the collector config.

    notify:
      channels:
        - {name: ops-mail, type: email, host: 127.0.0.1, port: 25,
           from: xunjian@example.cn, to: [ops@example.cn]}
        - {name: ding, type: dingtalk, secret: SEC...,
           url: "https://oapi.dingtalk.com/robot/send?access_token=..."}
        - {name: feishu, type: feishu, url: ..., secret: ...}
        - {name: wecom, type: wecom, url: ...}            # or key: ...
        - {name: hook, type: webhook, url: ..., token: ...}
      routes:
        - {match: {unit: 某市财政局, min_severity: critical}, channels: [ding, ops-mail]}
        - {channels: [ops-mail]}   # default
      digest: {max_pending: 5, max_lines: 10}
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from alerts.notify.base import Channel
from alerts.notify.mail import EmailChannel
from alerts.notify.robots import DingTalkChannel, FeishuChannel, WeComChannel
from alerts.notify.routing import Router, build_routes
from alerts.notify.webhook import WebhookChannel
from checks.options import ConfigError, build

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
    return cls(build(cls.Options, data, where))


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
class DigestOptions:
    max_pending: int = 5   # more waiting than this for one channel: send one digest instead
    max_lines: int = 10    # lines listed in a digest

    def validate(self) -> None:
        if self.max_pending < 1 or self.max_lines < 1:
            raise ValueError("max_pending and max_lines must be at least 1")


@dataclass(frozen=True)
class NotifyConfig:
    channels: Mapping[str, Channel]
    router: Router
    digest: DigestOptions


def build_notify(data: Any, where: str = "notify") -> NotifyConfig:
    """The whole `notify:` section; raises ConfigError naming the offending key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(data) - {"channels", "routes", "digest"}
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {', '.join(sorted(map(str, unknown)))}")
    channels = build_channels(data.get("channels"), f"{where}.channels")
    router = build_routes(data.get("routes"), channels, f"{where}.routes")
    digest = build(DigestOptions, data.get("digest"), f"{where}.digest")
    return NotifyConfig(channels, router, digest)
