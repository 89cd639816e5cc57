"""Sliding-window rate limit: the pure function the collector uses over stored send times."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from alerts.notify.ratelimit import next_allowed_at, slots_left


def test_under_the_limit_sends_now():
    assert next_allowed_at([], 20, 60, 1000.0) == 1000.0
    assert next_allowed_at([990.0] * 19, 20, 60, 1000.0) == 1000.0
    assert slots_left([990.0] * 19, 20, 60, 1000.0) == 1


def test_full_window_waits_for_the_oldest_blocking_send():
    sent = [940.5 + i for i in range(20)]  # 940.5 .. 959.5, all within (940, 1000]
    assert slots_left(sent, 20, 60, 1000.0) == 0
    assert next_allowed_at(sent, 20, 60, 1000.0) == 1000.5
    # sends that already left the window do not count
    assert next_allowed_at([*sent, 100.0, 200.0], 20, 60, 1000.0) == 1000.5


def test_over_full_window_uses_the_right_send():
    # 25 sends recorded (e.g. another process raced): the 6th newest-but-limit decides
    sent = [950.0 + i for i in range(25)]  # 950..974
    assert next_allowed_at(sent, 20, 60, 980.0) == 955.0 + 60


def test_send_exactly_window_ago_has_left():
    assert next_allowed_at([940.0], 1, 60, 1000.0) == 1000.0
    assert next_allowed_at([940.1], 1, 60, 1000.0) == 1000.1


def test_unlimited():
    assert next_allowed_at([999.0] * 1000, 0, 60, 1000.0) == 1000.0
    assert slots_left([999.0] * 1000, 0, 60, 1000.0) > 1000


def test_datetimes_in_datetimes_out():
    now = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
    sent = [now - timedelta(seconds=50), now - timedelta(seconds=10)]
    assert next_allowed_at(sent, 2, 60, now) == now + timedelta(seconds=10)
    assert next_allowed_at(sent, 3, 60, now) == now


@given(st.lists(st.floats(0, 1000), max_size=60), st.integers(1, 20), st.floats(1, 300), st.floats(0, 1000))
def test_sending_at_next_allowed_never_exceeds_the_limit(sent, limit, window, now):
    """Property: a send at the returned instant keeps every window at <= limit sends (with the past)."""
    sent = [t for t in sent if t <= now]  # the past; a send at t occupies [t, t + window)
    at = next_allowed_at(sent, limit, window, now)
    assert at >= now
    assert len([t for t in sent if t + window > at]) + 1 <= limit
    if at > now:  # and it is the earliest such instant: just before, the window was still full
        assert len([t for t in sent if t + window > at - 1e-6]) >= limit
