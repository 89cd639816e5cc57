"""What every check is: options in, an Outcome out, state kept through a StateStore.

A check gets its data, judges it against thresholds and words the result; it never raises into
the agent (the runner turns any exception into UNKNOWN) and never pushes into globals.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional

from checks.model import Metric, Status


@dataclass
class Outcome:
    """What a check's run found: a status, its wording, metrics and details."""

    status: Status
    summary: str
    metrics: list[Metric] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class StateStore:
    """Where a check remembers things between runs (log positions, previous sizes...).

    The file holds one JSON object per line and the last complete one is the state, so a crash
    or a full disk leaves the previous state intact. Two kinds of state:

    - durable (the default; log positions, "was read-write" of mounts): at each save that changes
      it, appended as a line and fdatasync'd, so it survives a power cut as it was. An append
      costs about half the CPU of a temporary file renamed over the old one (docs/benchmarks.md),
      and the log checks save positions at nearly every run. The first write of a process and a file grown
      past `JOURNAL_MAX` are written whole instead (temporary file, fsync, rename), which also
      drops a line a crash left unfinished;
    - soft (`durable=False`; CPU samples, process lists, growth samples: figures that only make
      the next run's numbers nicer): kept in memory, written without fsync at most every
      `SOFT_WRITE_EVERY` seconds and at `flush()` (the agent flushes when it stops), so a crash
      costs at most that much of it.

    A save that changes nothing writes nothing. The store is the file's only writer in the agent
    (the state_dir is locked), so what was saved is kept in memory and `load()` reads the file
    only once. A read-only store is what `xunjian-agent check` uses: it reads the running agent's
    state but never moves it.
    """

    SOFT_WRITE_EVERY = 300.0
    JOURNAL_MAX = 16 * 1024  # bytes of appended states before the file is written whole again

    def __init__(self, path: Optional[Path], *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._memory: dict[str, Any] = {}
        self._text: Optional[str] = None  # JSON of what was last loaded or saved
        self._dirty = False               # _text is not (yet) what the file holds
        self._written = 0.0               # monotonic time of the last write to the file
        self._size = -1                   # bytes in the file as this store last wrote it; -1: not known

    def load(self) -> dict[str, Any]:
        if self.path is None:
            return dict(self._memory)
        if self._text is None or self.readonly:
            try:
                with open(self.path, encoding="utf-8") as f:
                    last = last_state(f.read())
            except FileNotFoundError:
                return {}
            except (OSError, ValueError):
                return {}
            if last is None:
                # A corrupt state file must not stop the check; it starts afresh (from the end of logs).
                return {}
            text, data = last
            if not self.readonly:
                self._text = text
            return data
        data = json.loads(self._text)  # a fresh copy: the caller may change what it gets
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any], *, durable: bool = True) -> None:
        if self.readonly:
            return
        if self.path is None:
            self._memory = dict(data)
            return
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a file name that is not UTF-8 (surrogateescape): \u escapes round-trip
            text = json.dumps(data, ensure_ascii=True, sort_keys=True)
        if text == self._text and not self._dirty:
            return
        self._text = text
        self._dirty = True
        if durable or time.monotonic() - self._written >= self.SOFT_WRITE_EVERY:
            self._write(fsync=durable)

    def flush(self) -> None:
        """Write soft state still only in memory (at a clean stop)."""
        if self._dirty and not self.readonly and self.path is not None:
            self._write(fsync=True)

    def _write(self, fsync: bool) -> None:
        assert self.path is not None and self._text is not None
        line = (self._text + "\n").encode("utf-8")
        # Unknown until this write is through: after a failed append (a partial line, say) the
        # next write is a whole one.
        size, self._size = self._size, -1
        if fsync and 0 <= size and size + len(line) <= self.JOURNAL_MAX:
            append_durably(self.path, line)
            self._size = size + len(line)
        else:
            atomic_write(self.path, line, fsync=fsync)
            self._size = len(line)
        self._dirty = False
        self._written = time.monotonic()


def last_state(text: str) -> Optional[tuple[str, dict[str, Any]]]:
    """The last line of a state file that is a whole JSON object, with its text; None if none is.
    (json.dumps escapes every newline inside strings, so a state is always one line.)"""
    for line in reversed(text.split("\n")):
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue  # a line a crash left unfinished: the one before it was the state
        if isinstance(data, dict):
            return line, data
    return None


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _path_lock(key: str) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())


def append_durably(path: Path, payload: bytes) -> None:
    """Append `payload` to the existing file `path` and fdatasync it."""
    with _path_lock(str(path)):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            getattr(os, "fdatasync", os.fsync)(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, payload: bytes, *, fsync: bool = True) -> None:
    """Write `payload` to `.<name>.tmp` beside `path` and rename it over `path`. Writers of one
    path within this process take turns (the temporary name is fixed, so a crash leaves at most
    one stale temporary file, reused by the next write)."""
    key = str(path)
    lock = _path_lock(key)
    tmp = os.path.join(os.path.dirname(key), f".{os.path.basename(key)}.tmp")
    with lock:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
                if fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, key)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


class Check:
    """Base class: subclasses set `type`, `Options` (a dataclass) and implement `run()`."""

    type: ClassVar[str] = ""
    Options: ClassVar[type] = object

    def __init__(self, options: Any, *, state: Optional[StateStore] = None) -> None:
        self.options = options
        self.state = state if state is not None else StateStore(None)

    def run(self) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release sockets or files held between runs."""
