"""Notification channels (mail, DingTalk, Feishu, WeCom, webhook), routing, rate limits and digests.

No database here: the collector's outbox stores notifications (`Notification.to_dict()`), routes
them (`NotifyConfig.router.route(n)`), folds bursts (`fold_pending`), respects `next_allowed_at`
and calls `channel.send(n)`, which never raises and returns a `DeliveryResult`.
"""
from alerts.notify.base import Channel, DeliveryResult
from alerts.notify.channels import CHANNEL_TYPES, NotifyConfig, build_channel, build_channels, build_notify
from alerts.notify.digest import fold_pending, make_digest, should_fold
from alerts.notify.masking import mask_url
from alerts.notify.message import KINDS, SEVERITIES, Notification, parse_severity
from alerts.notify.ratelimit import RateLimit, next_allowed_at, slots_left
from alerts.notify.routing import Match, Route, Router, build_routes

__all__ = [
    "CHANNEL_TYPES", "KINDS", "SEVERITIES", "Channel", "DeliveryResult", "Match", "Notification",
    "NotifyConfig", "RateLimit", "Route", "Router", "build_channel", "build_channels",
    "build_notify", "build_routes", "fold_pending", "make_digest", "mask_url", "next_allowed_at",
    "parse_severity", "should_fold", "slots_left",
]
