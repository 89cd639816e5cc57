"""The agent's log on the standard `logging`: one line per event on stderr, no upper-case alarm words.

The agent's stderr often lands in a directory that a log check watches for ERROR/WARN, so a busy
collector or a retry must never look like an incident in the agent's own log: the formatter writes
level names in lower case and lowers the alarm words wherever they appear (paths, exception text,
tracebacks). A line: `2026-11-25 10:00:00 xunjian-agent[123] warning: collector unreachable ...`.
"""
from __future__ import annotations

import logging
import re

ALARM_WORDS = re.compile(r"ERROR|WARN|CRITICAL|FATAL|SEVERE")
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def quiet_alarm_words(text: str) -> str:
    """Lower-case the words log checks match on, wherever they appear."""
    return ALARM_WORDS.sub(lambda m: m.group(0).lower(), text)


class QuietFormatter(logging.Formatter):
    """The agent's line format, alarm words lowered; a call with the wrong arguments for its format
    string is written with the arguments beside it rather than lost."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s xunjian-agent[%(process)d] %(levelname)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)  # a copy: other handlers see the record unchanged
        record.levelname = record.levelname.lower()
        try:
            record.getMessage()
        except (TypeError, ValueError, KeyError):
            record.msg, record.args = f"{record.msg} {record.args!r}", None
        return quiet_alarm_words(super().format(record))


def setup_logging(level: str = "info") -> None:
    """Every logger (the agent's and its libraries', e.g. paramiko's for `poll`) to stderr in the agent's format."""
    handler = logging.StreamHandler()
    handler.setFormatter(QuietFormatter())
    logging.basicConfig(level=level_of(level), handlers=[handler], force=True)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(level_of(level))


def level_of(name: str) -> int:
    """debug, info, warning or error (anything else: info)."""
    return LEVELS.get(str(name).lower(), logging.INFO)
