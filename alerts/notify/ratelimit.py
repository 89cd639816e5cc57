"""Per-channel send limits over a sliding window (DingTalk and WeCom robots take 20 messages a minute).

The core is a pure function over the times of previous sends, so the collector can keep those times
in its database.
Times are epoch seconds (float) or timezone-aware datetimes, not mixed.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

Instant = TypeVar("Instant", float, datetime)


def _recent(sent_times: Iterable[Instant], window: float, now: Instant) -> list[Instant]:
    span = timedelta(seconds=window) if isinstance(now, datetime) else window
    return sorted(t for t in sent_times if t + span > now)  # a send at t occupies [t, t + window)


def next_allowed_at(sent_times: Iterable[Instant], limit: int, window: float, now: Instant) -> Instant:
    """Earliest instant >= now at which one more send keeps every `window` seconds to <= `limit` sends.

    A send at time t occupies the window until t + window (exclusive). limit <= 0 means unlimited.
    """
    if limit <= 0:
        return now
    recent = _recent(sent_times, window, now)
    if len(recent) < limit:
        return now
    # Once the send `limit` places from the newest leaves the window, one more fits.
    oldest_blocking = recent[len(recent) - limit]
    if isinstance(oldest_blocking, datetime):
        free = oldest_blocking + timedelta(seconds=window)
    else:
        free = oldest_blocking + window
    return free if free > now else now


def slots_left(sent_times: Iterable[Instant], limit: int, window: float, now: Instant) -> int:
    """How many sends fit right now; a large number for unlimited channels."""
    if limit <= 0:
        return 1 << 30
    return max(0, limit - len(_recent(sent_times, window, now)))


@dataclass(frozen=True)
class RateLimit:
    """`limit` sends per `window` seconds; limit 0 = unlimited."""

    limit: int = 20
    window: float = 60.0
