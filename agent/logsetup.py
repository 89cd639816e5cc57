"""The agent's own log: one line per event on stderr, lower-case level names, no upper-case alarm words.

The agent's stderr often lands in a directory that a log check watches for ERROR/WARN, so a
busy collector or a retry must never look like an incident in the agent's own log.

Not the standard `logging`: the daemon needs four levels and one line format, and `logging`, with
the `traceback` and `string` it imports, stayed resident for that (about 0.3 MiB, docs/benchmarks.md).
The lines are the ones `logging` wrote: `2026-11-25 10:00:00 xunjian-agent[123] warning: ...`.
`route_stdlib_logging()` sends the standard module's records here as well, for a command whose
libraries log through it (the SSH poller's paramiko).
"""
from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import Any

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_NAMES = {DEBUG: "debug", INFO: "info", WARNING: "warning", ERROR: "error"}
_ALARM = re.compile(r"ERROR|WARN|CRITICAL|FATAL|SEVERE")

_level = INFO
_write_lock = threading.Lock()
_loggers: dict[str, Logger] = {}
_routed = False  # the standard logging's records come here too


def quiet_alarm_words(text: str) -> str:
    """Lower-case the words log checks match on, wherever they appear (paths, exception text...)."""
    return _ALARM.sub(lambda m: m.group(0).lower(), text)


def write(level: int, text: str) -> None:
    """One entry (a traceback makes it several lines); a closed or broken stderr is ignored."""
    name = _NAMES[DEBUG if level < INFO else INFO if level < WARNING else WARNING if level < ERROR else ERROR]
    line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} xunjian-agent[{os.getpid()}] {name}: {text}"
    with _write_lock:
        try:
            sys.stderr.write(quiet_alarm_words(line) + "\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass


def _message(msg: Any, args: tuple[Any, ...]) -> str:
    text = str(msg)
    if args:
        try:
            text = text % args
        except (TypeError, ValueError, KeyError):  # a wrong format never stops the caller
            text = f"{text} {args!r}"
    return text


class Logger:
    """The calls the agent makes on a logger, as in `logging`: debug, info, warning, error,
    exception (with the traceback being handled) and isEnabledFor."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def isEnabledFor(self, level: int) -> bool:  # logging's name, so that callers read alike
        return level >= _level

    def debug(self, msg: Any, *args: Any) -> None:
        if _level <= DEBUG:
            write(DEBUG, _message(msg, args))

    def info(self, msg: Any, *args: Any) -> None:
        if _level <= INFO:
            write(INFO, _message(msg, args))

    def warning(self, msg: Any, *args: Any) -> None:
        if _level <= WARNING:
            write(WARNING, _message(msg, args))

    def error(self, msg: Any, *args: Any) -> None:
        write(ERROR, _message(msg, args))

    def exception(self, msg: Any, *args: Any) -> None:
        import traceback

        write(ERROR, _message(msg, args) + "\n" + traceback.format_exc().rstrip("\n"))


def get_logger(name: str) -> Logger:
    logger = _loggers.get(name)
    if logger is None:
        logger = _loggers.setdefault(name, Logger(name))
    return logger


def setup_logging(level: str = "info") -> None:
    set_level(level)


def set_level(level: str) -> None:
    """debug, info, warning or error (anything else: info)."""
    global _level
    _level = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR}.get(str(level).lower(), INFO)
    if _routed:
        import logging

        logging.getLogger().setLevel(_level)


def route_stdlib_logging() -> None:
    """Records of the standard `logging` (libraries' own) go to this log, at this log's level."""
    global _routed
    import logging

    class Forward(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                text = logging.Formatter("%(message)s").format(record)
            except Exception:  # a library's bad record never stops the agent
                text = str(record.msg)
            write(record.levelno, text)

    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(Forward())
    _routed = True
    root.setLevel(_level)


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
