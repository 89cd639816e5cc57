"""Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter")."""
from __future__ import annotations

import os
from typing import Any, Optional


def uniform(low: float, high: float) -> float:
    """Uniform in [low, high) from os.urandom (the random module is not worth its memory here)."""
    return low + int.from_bytes(os.urandom(7), "big") / 2**56 * (high - low)


class Backoff:
    def __init__(self, base: float = 1.0, cap: float = 300.0, rng: Optional[Any] = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._uniform = rng.uniform if rng is not None else uniform  # rng: a random.Random in tests

    def ceiling(self) -> float:
        """The upper bound of the next delay: base * 2^attempt, at most cap."""
        return min(self.cap, self.base * (2 ** min(self.attempt, 32)))

    def next_delay(self) -> float:
        """A uniformly random delay in [0, ceiling]; each call doubles the ceiling."""
        delay = self._uniform(0, self.ceiling())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
