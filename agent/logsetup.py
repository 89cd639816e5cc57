"""The agent's own log: lower-case level names and no upper-case alarm words.

The agent's stderr often lands in a directory that a log check watches for ERROR/WARN, so a
busy collector or a retry must never look like an incident in the agent's own log.
"""
from __future__ import annotations

import logging
import re
import sys

_ALARM = re.compile(r"ERROR|WARN|CRITICAL|FATAL|SEVERE")


def quiet_alarm_words(text: str) -> str:
    """Lower-case the words log checks match on, wherever they appear (paths, exception text...)."""
    return _ALARM.sub(lambda m: m.group(0).lower(), text)


class LowerFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s xunjian-agent[%(process)d] %(lowlevel)s: %(message)s",
                         datefmt="%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        record.lowlevel = record.levelname.lower()
        return quiet_alarm_words(super().format(record))


def setup_logging(level: str = "info") -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LowerFormatter())
    root.addHandler(handler)
    set_level(level)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(getattr(logging, level.upper(), logging.INFO))


class Throttle:
    """Say something at most once per `every` seconds (e.g. 'disk full' while it stays full)."""

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}

    def ready(self, key: str, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        self._last[key] = now
        return True
