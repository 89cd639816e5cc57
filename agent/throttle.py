"""Say something at most once per interval (e.g. 'disk full' while it stays full)."""
from __future__ import annotations


class Throttle:
    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}

    def ready(self, key: str, now: float) -> bool:
        """True when `key` was not said within `every` seconds before `now` (then it counts as said)."""
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        self._last[key] = now
        return True
