"""Retry-After (RFC 9110 10.2.3), read the same way by the agent's sender and the notification channels."""
from __future__ import annotations

from typing import Optional


def parse_retry_after(value: Optional[str], now: float, cap: float = 3600.0) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP-date, `now` in Unix seconds),
    between 0 and `cap`; None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime  # rare: most servers send seconds

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # RFC 5322 "-0000": UTC
            from datetime import timezone

            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(cap, seconds))
