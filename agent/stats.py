"""Counters and gauges the agent keeps about itself (reported in the agent block and /metrics)."""
from __future__ import annotations

import threading
from collections import defaultdict


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.send_errors: dict[str, int] = defaultdict(int)   # reason -> count
        self.skipped: dict[str, int] = defaultdict(int)       # check -> count
        self.check_status: dict[tuple[str, str], int] = {}    # (check, system) -> Nagios code
        self.check_duration: dict[str, float] = {}            # check -> seconds of the last run
        self.results_total = 0
        self.last_send_ok = 0.0  # unix time of the last acknowledged request

    def send_error(self, reason: str) -> None:
        with self._lock:
            self.send_errors[reason] += 1

    def skip(self, check: str) -> None:
        with self._lock:
            self.skipped[check] += 1

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def forget_checks(self, keep: set[str]) -> None:
        """Drop gauges of checks removed by a reload (counters stay: they are totals)."""
        with self._lock:
            for key in [k for k in self.check_status if k[0] not in keep]:
                del self.check_status[key]
            for name in [k for k in self.check_duration if k not in keep]:
                del self.check_duration[name]
