from __future__ import annotations

import random
from email.utils import formatdate

from agent.backoff import Backoff
from checks.retry_after import parse_retry_after


def test_full_jitter_stays_under_a_doubling_capped_ceiling() -> None:
    b = Backoff(1.0, 30.0, rng=random.Random(1))
    ceilings = []
    for _ in range(10):
        ceiling = b.ceiling()
        delay = b.next_delay()
        assert 0 <= delay <= ceiling
        ceilings.append(ceiling)
    assert ceilings[:6] == [1, 2, 4, 8, 16, 30]
    assert ceilings[-1] == 30
    b.reset()
    assert b.ceiling() == 1


def test_full_jitter_spreads_delays() -> None:
    b = Backoff(1.0, 300.0, rng=random.Random(2))
    b.attempt = 8
    delays = [Backoff(1.0, 300.0, rng=random.Random(i)).next_delay() for i in range(50)]
    assert len(set(delays)) == 50  # not all agents come back at the same instant
    assert all(0 <= d <= 1 for d in delays)
    assert 0 <= b.next_delay() <= 256


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7", 0) == 7
    assert parse_retry_after(" 2.5 ", 0) == 2.5
    assert parse_retry_after("-3", 0) == 0
    assert parse_retry_after("999999", 0) == 3600
    assert parse_retry_after(None, 0) is None
    assert parse_retry_after("soon", 0) is None
    now = 1_800_000_000.0
    assert abs(parse_retry_after(formatdate(now + 30, usegmt=True), now) - 30) < 1.01  # type: ignore[operator]
