"""How much a directory holds and how fast it grows.

Sizes are apparent bytes as `du -sb` counts them (files and the directories themselves, hard
links once, symlinks not followed, other file systems not entered by default). The walk is
bounded by `max_entries` and `walk_timeout` and runs in a worker thread, so a dead NFS mount
underneath makes the check UNKNOWN instead of hanging it. Growth is measured against samples of
the last `growth_window` kept in the StateStore.
"""
from __future__ import annotations

import fnmatch
import os
import stat
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from checks.base import Check, Outcome, StateStore
from checks.humanize import format_bytes
from checks.model import Metric, Status, worst
from checks.options import Duration, Size
from checks.thresholds import evaluate
from checks.timed import REGISTRY, CallTimeout, HungCallRegistry, StillStuck

MAX_SAMPLES = 60
CLOCK_EVERY = 256  # walk entries between looks at the clock


@dataclass
class DirSizeOptions:
    """Options of a dirsize check."""

    path: str
    warn: Optional[Size] = None          # size_bytes above this: WARNING
    crit: Optional[Size] = None
    growth_warn: Optional[Size] = None   # bytes per hour above this: WARNING
    growth_crit: Optional[Size] = None
    growth_window: Duration = 3600.0  # type: ignore[assignment]
    max_entries: int = 200_000
    walk_timeout: Duration = 20.0  # type: ignore[assignment]
    exclude: list[str] = field(default_factory=list)  # globs on entry names: "*.tmp", ".snapshot"
    one_file_system: bool = True

    def validate(self) -> None:
        if self.max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if self.walk_timeout <= 0 or self.growth_window <= 0:
            raise ValueError("walk_timeout and growth_window must be positive")


@dataclass
class Walk:
    """What one walk of the directory counted."""

    size: int = 0
    files: int = 0
    dirs: int = 0
    entries: int = 0
    unreadable: int = 0
    complete: bool = True
    stopped_by: str = ""  # "max_entries" or "timeout" when incomplete


def walk(root: str, max_entries: int, deadline: float, exclude: Optional[list[str]] = None,
         one_file_system: bool = True) -> Walk:
    """Sum apparent sizes under `root` with os.scandir, never following symlinks.

    Runs once a minute over trees like /etc (~1400 entries), so the loop keeps its counters in
    locals and reads the clock every CLOCK_EVERY entries, not at each one."""
    top = os.lstat(root)
    top_dev = top.st_dev
    size = top.st_size
    files = dirs = entries = unreadable = 0
    stopped = ""
    next_look = 0  # entry count at which the limits are looked at next
    seen_links: set[tuple[int, int]] = set()
    s_isdir = stat.S_ISDIR
    stack = [root]
    while stack and not stopped:
        path = stack.pop()
        try:
            it = os.scandir(path)
        except OSError:
            unreadable += 1
            continue
        with it:
            for entry in it:
                if entries >= next_look:
                    if entries >= max_entries:
                        stopped = "max_entries"
                        break
                    if time.monotonic() > deadline:
                        stopped = "timeout"
                        break
                    next_look = min(entries + CLOCK_EVERY, max_entries)
                entries += 1
                if exclude and any(fnmatch.fnmatchcase(entry.name, p) for p in exclude):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    unreadable += 1
                    continue
                if s_isdir(st.st_mode):
                    if one_file_system and st.st_dev != top_dev:
                        continue  # a mount point: another file system's space
                    dirs += 1
                    size += st.st_size
                    stack.append(entry.path)
                elif st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key not in seen_links:  # hard links count once
                        seen_links.add(key)
                        files += 1
                        size += st.st_size
                else:
                    files += 1
                    size += st.st_size
    return Walk(size=size, files=files, dirs=dirs, entries=entries, unreadable=unreadable,
                complete=not stopped, stopped_by=stopped)


def growth_per_hour(samples: list[list[float]], now: float, size: int, window: float) -> Optional[float]:
    """Bytes per hour against the oldest sample within `window` (at least a minute back)."""
    usable = [s for s in samples if now - window <= s[0] <= now - 60]
    if not usable:
        return None
    t0, s0 = usable[0]
    return (size - s0) / (now - t0) * 3600


class DirSizeCheck(Check):
    type = "dirsize"
    Options = DirSizeOptions

    def __init__(self, options: DirSizeOptions, *, state: Optional[StateStore] = None,
                 registry: HungCallRegistry = REGISTRY, walker: Callable[..., Walk] = walk) -> None:
        super().__init__(options, state=state)
        self._registry = registry
        self._walk = walker

    def run(self) -> Outcome:
        o: DirSizeOptions = self.options
        if not os.path.lexists(o.path):
            return Outcome(Status.CRITICAL, f"目录 {o.path} 不存在")
        if not os.path.isdir(o.path):
            return Outcome(Status.UNKNOWN, f"{o.path} 不是目录")
        deadline = time.monotonic() + o.walk_timeout
        try:
            # The thread waits a little past the walk's own deadline: only a blocked syscall
            # (a dead NFS server) lets it run out.
            w: Walk = self._registry.call(
                f"dirsize:{o.path}", self._walk, o.path, o.max_entries, deadline, o.exclude,
                o.one_file_system, timeout=o.walk_timeout + 2)
        except CallTimeout:
            return Outcome(Status.UNKNOWN, f"目录 {o.path} 无响应 ({o.walk_timeout + 2:g} 秒超时)")
        except StillStuck as e:
            return Outcome(Status.UNKNOWN, f"目录 {o.path} 无响应 (已阻塞 {e.blocked_for:.0f} 秒)")
        except OSError as e:
            return Outcome(Status.UNKNOWN, f"目录 {o.path} 无法读取: {e.strerror or e}")
        return self._judge(w)

    def _judge(self, w: Walk) -> Outcome:
        o: DirSizeOptions = self.options
        now = time.time()
        details: dict[str, Any] = {"size": w.size, "files": w.files, "dirs": w.dirs,
                                   "entries": w.entries, "complete": w.complete}
        if w.unreadable:
            details["unreadable"] = w.unreadable
        size_status = evaluate(w.size, o.warn, o.crit)
        metrics = [Metric("size_bytes", float(w.size), "B", _limit(o.warn), _limit(o.crit), 0.0),
                   Metric("files", float(w.files), "", min=0.0)]
        head = f"目录 {o.path} {format_bytes(w.size)}, {w.files} 个文件"
        if not w.complete:
            why = (f"超过 {o.max_entries} 个条目" if w.stopped_by == "max_entries"
                   else f"{o.walk_timeout:g} 秒内未统计完")
            details["stopped_by"] = w.stopped_by
            text = f"{head} 以上 ({why}, 结果不完整)"
            # A lower bound already over a threshold is still an alert; otherwise we cannot tell.
            return Outcome(size_status if size_status is not Status.OK else Status.UNKNOWN,
                           text, metrics, details)

        saved = self.state.load()
        samples = [s for s in saved.get("samples") or [] if isinstance(s, list) and len(s) == 2]
        growth = growth_per_hour(samples, now, w.size, o.growth_window)
        samples = [s for s in samples if s[0] >= now - o.growth_window - 3600]
        if not samples or now - samples[-1][0] >= o.growth_window / MAX_SAMPLES:
            samples.append([now, w.size])
        self.state.save({**saved, "samples": samples[-MAX_SAMPLES * 2:]}, durable=False)

        statuses = [size_status]
        parts = [head]
        if size_status is not Status.OK:
            limit = o.crit if size_status is Status.CRITICAL else o.warn
            parts[0] += f" (超过 {format_bytes(limit or 0)})"
        if growth is not None:
            growth_status = evaluate(growth, o.growth_warn, o.growth_crit)
            statuses.append(growth_status)
            metrics.append(Metric("growth_bytes_per_hour", round(growth, 1), "B",
                                  _limit(o.growth_warn), _limit(o.growth_crit)))
            details["growth_bytes_per_hour"] = round(growth, 1)
            rate = f"增长 {format_bytes(growth)}/小时"
            if growth_status is not Status.OK:
                parts.insert(0, rate)
            else:
                parts.append(rate)
        if w.unreadable:
            parts.append(f"{w.unreadable} 个条目无法读取")
        return Outcome(worst(statuses), ", ".join(parts), metrics, details)


def _limit(v: Optional[int]) -> Optional[str]:
    return None if v is None else str(v)
