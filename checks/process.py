"""Processes matched by name, command line and user: count bounds, memory, CPU and restarts.

CPU % comes from cpu_times deltas kept in the StateStore (no sleeping, works for a one-shot
check too). A restart is a matched process (pid, create_time) not seen at the previous run; it
is reported once, as WARNING. On Linux the table is read from /proc (checks.proctable, one walk
shared by the process checks of a scheduler turn); elsewhere from psutil.
"""
from __future__ import annotations

import fnmatch
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional

from checks import proctable
from checks.base import Check, Outcome
from checks.humanize import format_bytes
from checks.model import Metric, Status, worst
from checks.options import Size, Threshold
from checks.thresholds import Range, as_text, evaluate

MAX_REMEMBERED = 500  # processes kept in state for restart and CPU figures
MAX_LISTED = 20       # processes listed in details


@dataclass
class ProcessOptions:
    """Options of a process check."""

    # The process name (glob allowed: java, nginx*, mysqld). Not `name`: that key is the check's own.
    process_name: Optional[str] = None
    cmdline: Optional[str] = None   # regex searched in the full command line
    user: Optional[str] = None      # owner's user name
    label: Optional[str] = None     # how the summary names them; default from the matchers
    count: Threshold = "1:"  # type: ignore[assignment]  # CRITICAL outside; default: at least one
    count_warn: Optional[Threshold] = None
    rss_warn: Optional[Size] = None  # bytes, on the sum (or max) of the matched processes' RSS
    rss_crit: Optional[Size] = None
    cpu_warn: Optional[Threshold] = None  # percent of one CPU, on the sum (or max)
    cpu_crit: Optional[Threshold] = None
    aggregate: Literal["sum", "max"] = "sum"
    report_restarts: bool = True

    def validate(self) -> None:
        if not (self.process_name or self.cmdline or self.user):
            raise ValueError("give at least one of process_name, cmdline, user")
        if self.cmdline is not None:
            try:
                re.compile(self.cmdline)
            except re.error as e:
                raise ValueError(f"cmdline: not a regular expression: {e}") from None

    def describe(self) -> str:
        if self.label:
            return self.label
        parts = [self.process_name or ""]
        if self.cmdline:
            parts.append(f"/{self.cmdline}/")
        if self.user:
            parts.append(f"(用户 {self.user})")
        return " ".join(p for p in parts if p)


@dataclass
class Proc:
    """One matching process with the figures the check judges."""

    pid: int
    create_time: float
    name: str
    user: str
    rss: int
    cpu_seconds: float
    cmdline: str

    @property
    def key(self) -> str:
        return f"{self.pid}:{self.create_time:.2f}"


def matches(o: ProcessOptions, pattern: Optional[re.Pattern[str]], name: Optional[str],
            user: Optional[str], cmdline: Optional[str]) -> bool:
    """The matcher, shared by every process table (psutil here, `ps`/proc read over SSH)."""
    if o.process_name and not fnmatch.fnmatchcase(name or "", o.process_name):
        return False
    if o.user and user != o.user:
        return False
    return pattern is None or bool(pattern.search(cmdline or ""))


def find_processes(o: ProcessOptions, exclude: tuple[int, ...] = ()) -> list[Proc]:
    """The psutil way, for systems without /proc."""
    import psutil

    attrs = ["name", "create_time", "status"]
    if o.cmdline:
        attrs.append("cmdline")
    if o.user:
        attrs.append("username")
    pattern = re.compile(o.cmdline) if o.cmdline else None
    found: list[Proc] = []
    for p in psutil.process_iter(attrs):
        info = p.info
        if p.pid in exclude or info.get("status") == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(info.get("cmdline") or [])
        if not matches(o, pattern, info.get("name"), info.get("username"), cmdline):
            continue
        try:
            with p.oneshot():
                rss = p.memory_info().rss
                t = p.cpu_times()
                user = info.get("username") or p.username()
                if not cmdline:
                    cmdline = " ".join(p.cmdline())
        except psutil.NoSuchProcess:
            continue  # ended while we looked
        except psutil.AccessDenied:
            rss, t, user = 0, None, info.get("username") or "?"
        found.append(Proc(p.pid, float(info.get("create_time") or 0.0), info.get("name") or "", user,
                          rss, (t.user + t.system) if t is not None else 0.0, cmdline[:200]))
    return found


def select_local(snap: proctable.Snapshot, o: ProcessOptions, exclude: tuple[int, ...] = ()) -> list[Proc]:
    """The processes of a /proc snapshot matching `o`, with the figures psutil would give."""
    pattern = re.compile(o.cmdline) if o.cmdline else None
    by_name = re.compile(fnmatch.translate(o.process_name)).match if o.process_name else None
    found: list[Proc] = []
    for p in snap.procs:
        if p.pid in exclude or p.state == "Z":
            continue
        name = snap.name(p)
        if by_name is not None and by_name(name) is None:
            continue  # the cheap test first: most processes end here, nothing more read
        user = snap.user(p) if o.user else None
        cmdline = " ".join(snap.cmdline(p)) if pattern is not None else None
        if not matches(o, pattern, name, user, cmdline):
            continue
        user = user or snap.user(p)
        if user is None:
            continue  # ended while we looked
        if cmdline is None:
            cmdline = " ".join(snap.cmdline(p))
        found.append(Proc(p.pid, snap.create_time(p), name, user, p.rss_pages * snap.page,
                          (p.utime + p.stime) / snap.hz, cmdline[:200]))
    return found


class LocalProcesses:
    """This machine's processes for one check: a shared /proc snapshot of this moment, never the
    very walk this check judged at its previous run (so CPU and restarts always move on)."""

    def __init__(self, table: Optional[proctable.LocalTable] = None) -> None:
        self.table = table if table is not None else proctable.SHARED
        self._last: Optional[proctable.Snapshot] = None

    def __call__(self, o: ProcessOptions) -> list[Proc]:
        if not proctable.available(self.table.proc):
            return find_processes(o, exclude=(os.getpid(),))
        snap = self.table.snapshot(not_this=self._last)
        self._last = snap
        return select_local(snap, o, exclude=(os.getpid(),))


class ProcessCheck(Check):
    type = "process"
    Options = ProcessOptions

    def __init__(self, options: ProcessOptions, *, state: Any = None,
                 table: Optional[Callable[[ProcessOptions], list[Proc]]] = None) -> None:
        super().__init__(options, state=state)
        # This machine's processes; the agentless poller reads a remote table.
        self._table = table if table is not None else LocalProcesses()

    def run(self) -> Outcome:
        o: ProcessOptions = self.options
        now = time.time()
        procs = self._table(o)
        saved = self.state.load()
        prev_cpu: dict[str, float] = saved.get("cpu") or {}
        prev_at = saved.get("at")
        known = saved.get("procs")
        procs.sort(key=lambda p: (p.create_time, p.pid))
        # Soft state: a crash costs at most a few minutes of it (a restart then reported twice).
        self.state.save({"procs": [p.key for p in procs][:MAX_REMEMBERED], "at": now,
                         "cpu": {p.key: p.cpu_seconds for p in procs[:MAX_REMEMBERED]}}, durable=False)

        label = o.describe()
        n = len(procs)
        items: list[tuple[Status, str]] = []
        metrics = [Metric("count", float(n), "", as_text(o.count_warn), as_text(o.count), 0.0)]
        count_status = evaluate(n, o.count_warn, o.count)
        if n == 0:
            items.append((count_status, f"未找到进程 {label}"))
        elif count_status is not Status.OK:
            bad = o.count if count_status is Status.CRITICAL else o.count_warn
            items.append((count_status, f"进程 {label} 数量 {n}, 应在 {_range_zh(bad)}"))

        restarts = 0
        if known is not None and o.report_restarts:
            restarts = len({p.key for p in procs} - set(known))
            if restarts:
                gone = sorted(int(k.split(":")[0]) for k in set(known) - {p.key for p in procs})
                new = [p.pid for p in procs if p.key not in set(known)]
                was = f"pid {','.join(map(str, gone))} → " if gone else ""
                items.append((Status.WARNING, f"进程已重启 ({was}{','.join(map(str, new))})"))
        metrics.append(Metric("restarts", float(restarts), "", min=0.0))

        agg = sum if o.aggregate == "sum" else (lambda xs: max(xs, default=0))
        rss = agg([p.rss for p in procs])
        rss_status = evaluate(rss, o.rss_warn, o.rss_crit)
        metrics.append(Metric("rss_bytes", float(rss), "B", _cap(o.rss_warn), _cap(o.rss_crit), 0.0))
        if rss_status is not Status.OK:
            limit = o.rss_crit if rss_status is Status.CRITICAL else o.rss_warn
            items.append((rss_status, f"内存 {format_bytes(rss)} 超过 {format_bytes(limit or 0)}"))

        cpu = None
        if isinstance(prev_at, (int, float)) and now > prev_at:
            # Only processes seen last time have a CPU figure; a new one starts next run.
            per = [max(0.0, (p.cpu_seconds - float(prev_cpu[p.key])) / (now - prev_at) * 100)
                   for p in procs if p.key in prev_cpu]
            if per:
                cpu = agg(per)
        if cpu is not None:
            cpu_status = evaluate(cpu, o.cpu_warn, o.cpu_crit)
            metrics.append(Metric("cpu_percent", round(cpu, 1), "%", as_text(o.cpu_warn),
                                  as_text(o.cpu_crit), 0.0))
            if cpu_status is not Status.OK:
                items.append((cpu_status, f"CPU {cpu:.0f}%"))

        status = worst(s for s, _ in items)
        if n:
            head = f"进程 {label} {n} 个运行中, 内存 {format_bytes(rss)}"
            if cpu is not None:
                head += f", CPU {cpu:.0f}%"
            items.append((Status.OK, head))
        items.sort(key=lambda it: -it[0].severity)
        details: dict[str, Any] = {"count": n, "processes": [_detail(p) for p in procs[:MAX_LISTED]]}
        if n > MAX_LISTED:
            details["more"] = n - MAX_LISTED
        return Outcome(status, "; ".join(text for _, text in items), metrics, details)


def _cap(limit: Optional[int]) -> Optional[str]:
    return None if limit is None else str(limit)


def _range_zh(spec: Optional[str]) -> str:
    r = Range.parse(spec or "0:")
    if r.inside:
        return f"{_n(r.start)} 到 {_n(r.end)} 之外"
    if r.end == float("inf"):
        return f"{_n(r.start)} 个以上"
    if r.start == float("-inf") or r.start == 0:
        return f"{_n(r.end)} 个以内"
    return f"{_n(r.start)} 到 {_n(r.end)} 之间"


def _n(v: float) -> str:
    return f"{v:g}"


def _detail(p: Proc) -> dict[str, Any]:
    return {"pid": p.pid, "name": p.name, "user": p.user, "rss": p.rss,
            "create_time": round(p.create_time, 2), "cmdline": p.cmdline}
