"""Per-channel send limits over a sliding window (DingTalk and WeCom robots take 20 messages a minute).

The core is a pure function over the times of previous sends, so the collector can keep those times
in its database; `RateLimiter` is the same rule over a small in-memory deque.
Times are epoch seconds (float) or timezone-aware datetimes, not mixed.
"""
from __future__ import annotations

from collections import deque
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


def window_full(sent_times: Iterable[Instant], limit: int, window: float, now: Instant) -> bool:
    return slots_left(sent_times, limit, window, now) == 0


@dataclass(frozen=True)
class RateLimit:
    """`limit` sends per `window` seconds; limit 0 = unlimited."""

    limit: int = 20
    window: float = 60.0

    def next_allowed_at(self, sent_times: Iterable[Instant], now: Instant) -> Instant:
        return next_allowed_at(sent_times, self.limit, self.window, now)

    def slots_left(self, sent_times: Iterable[Instant], now: Instant) -> int:
        return slots_left(sent_times, self.limit, self.window, now)


class RateLimiter:
    """In-memory sliding window for one channel (epoch seconds); not shared between processes."""

    def __init__(self, limit: int, window: float) -> None:
        self.rate = RateLimit(limit, window)
        # Only the newest `limit` sends matter (sends are recorded in time order).
        self._sent: deque[float] = deque(maxlen=max(limit, 1))

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self.rate.limit}, window={self.rate.window})"

    def next_allowed_at(self, now: float) -> float:
        return self.rate.next_allowed_at(self._sent, now)

    def record(self, at: float) -> None:
        if self.rate.limit > 0:
            self._sent.append(at)

    def try_acquire(self, now: float) -> bool:
        """Record a send at `now` if one is allowed; False (nothing recorded) if the window is full."""
        if self.next_allowed_at(now) > now:
            return False
        self.record(now)
        return True
