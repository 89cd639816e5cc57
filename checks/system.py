"""CPU, memory, swap and load per core.

CPU % is measured between runs from cpu time deltas, never by sleeping in the check. The last
sample is also kept in the StateStore, so a one-shot `xunjian-agent check` reading the agent's
state measures since the agent's last run; only the very first run has no CPU figure.

On Linux the figures are read from /proc/stat and /proc/meminfo, computed as psutil computes
them (cpu_times, virtual_memory, swap_memory); elsewhere psutil itself is asked.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, NamedTuple, Optional, Union

from checks.base import Check, Outcome, StateStore
from checks.model import Metric, Status, worst
from checks.options import Threshold
from checks.thresholds import as_text, evaluate

ThresholdList = Union[Threshold, list[Threshold]]
MAX_SAMPLE_AGE = 3600.0  # an older previous sample says little about "now"
MIN_CPU_SECONDS = 0.5  # below this the tick resolution (10 ms per CPU) makes the percentage noise


@dataclass
class SystemOptions:
    """Options of a system check."""

    cpu_warn: Optional[Threshold] = "85"  # type: ignore[assignment]
    cpu_crit: Optional[Threshold] = "95"  # type: ignore[assignment]
    memory_warn: Optional[Threshold] = "85"  # type: ignore[assignment]
    memory_crit: Optional[Threshold] = "95"  # type: ignore[assignment]
    swap_warn: Optional[Threshold] = "80"  # type: ignore[assignment]
    swap_crit: Optional[Threshold] = "90"  # type: ignore[assignment]
    # Load average divided by the number of logical CPUs, for the 1, 5 and 15 minute windows
    # (one value applies to all three, as check_load's -w 4,3,2 does with three).
    load_warn: Optional[ThresholdList] = None
    load_crit: Optional[ThresholdList] = None

    def validate(self) -> None:
        for name in ("load_warn", "load_crit"):
            value = getattr(self, name)
            if isinstance(value, list) and len(value) not in (1, 3):
                raise ValueError(f"{name}: give one value or three (1, 5, 15 minutes)")

    def load_ranges(self) -> tuple[list[Optional[str]], list[Optional[str]]]:
        return _three(self.load_warn, ["4", "3", "2"]), _three(self.load_crit, ["8", "6", "4"])


def _three(value: Optional[ThresholdList], default: list[str]) -> list[Optional[str]]:
    if value is None:
        return list(default)
    if isinstance(value, list):
        return [str(v) for v in value] * (3 if len(value) == 1 else 1)
    return [str(value)] * 3


class Memory(NamedTuple):
    total: int
    available: int
    percent: float  # of total not available, rounded to 0.1 (psutil's virtual_memory().percent)


class Swap(NamedTuple):
    total: int
    used: int
    percent: float


def _percent(part: int, whole: int) -> float:
    return round(part / whole * 100, 1) if whole else 0.0


def _proc_stat() -> tuple[list[float], float]:
    """The aggregate `cpu` line of /proc/stat in seconds (user nice system idle iowait irq
    softirq steal guest guest_nice, as many as the kernel gives) and the boot time."""
    hz = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat", "rb") as f:
        text = f.read()
    first = text.split(b"\n", 1)[0].split()
    btime = float(text.split(b"\nbtime ", 1)[1].split(None, 1)[0])
    return [int(v) / hz for v in first[1:]], btime


def _meminfo() -> Optional[dict[bytes, int]]:
    """/proc/meminfo in bytes; None where it is missing or has no MemAvailable (kernels before
    3.14), where psutil's estimate is used instead."""
    try:
        with open("/proc/meminfo", "rb") as f:
            mems = {}
            for line in f:
                fields = line.split()
                mems[fields[0]] = int(fields[1]) * 1024
    except (OSError, IndexError, ValueError):
        return None
    if not mems.get(b"MemAvailable:") or b"SwapTotal:" not in mems or b"MemTotal:" not in mems:
        return None
    return mems


def memory() -> tuple[Memory, Swap]:
    mems = _meminfo()
    if mems is None:
        import psutil

        vm, sw = psutil.virtual_memory(), psutil.swap_memory()
        return Memory(vm.total, vm.available, vm.percent), Swap(sw.total, sw.used, sw.percent)
    total, avail = mems[b"MemTotal:"], mems[b"MemAvailable:"]
    if avail > total:
        avail = mems.get(b"MemFree:", total)  # as psutil: a bogus MemAvailable (LXC)
    swap_total = mems[b"SwapTotal:"]
    swap_used = swap_total - mems.get(b"SwapFree:", 0)
    return (Memory(total, avail, _percent(total - avail, total)),
            Swap(swap_total, swap_used, _percent(swap_used, swap_total)))


def cpu_sample() -> dict[str, float]:
    if os.path.exists("/proc/stat"):
        times, boot = _proc_stat()
        names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")
        t = dict(zip(names, times))
    else:
        import psutil

        t, boot = psutil.cpu_times()._asdict(), psutil.boot_time()
    # On Linux guest time is already inside user/nice; counting it twice would inflate busy.
    total = sum(t.values()) - t.get("guest", 0.0) - t.get("guest_nice", 0.0)
    iowait = t.get("iowait", 0.0)
    return {"total": total, "idle": t["idle"] + iowait, "iowait": iowait, "at": time.time(), "boot": boot}


def cpu_between(prev: dict[str, Any], cur: dict[str, float]) -> Optional[tuple[float, float]]:
    """(busy %, iowait %) between two samples; None if they do not belong together."""
    try:
        if abs(float(prev["boot"]) - cur["boot"]) > 5 or cur["at"] - float(prev["at"]) > MAX_SAMPLE_AGE:
            return None
        total = cur["total"] - float(prev["total"])
        idle = cur["idle"] - float(prev["idle"])
        iowait = cur["iowait"] - float(prev["iowait"])
    except (KeyError, TypeError, ValueError):
        return None
    if total < MIN_CPU_SECONDS:
        return None
    busy = min(100.0, max(0.0, (total - idle) / total * 100))
    return busy, min(100.0, max(0.0, iowait / total * 100))


class SystemCheck(Check):
    type = "system"
    Options = SystemOptions

    def __init__(self, options: SystemOptions, *, state: Optional[StateStore] = None) -> None:
        super().__init__(options, state=state)
        self._prev: Optional[dict[str, float]] = cpu_sample()  # primed: the first run has a figure

    def run(self) -> Outcome:
        o: SystemOptions = self.options
        cur = cpu_sample()
        saved = self.state.load()
        cpu = None
        for prev in (self._prev, saved.get("cpu")):
            cpu = cpu if cpu is not None or not prev else cpu_between(prev, cur)
        self._prev = cur
        self.state.save({**saved, "cpu": cur}, durable=False)
        items: list[tuple[Status, str]] = []
        metrics: list[Metric] = []
        details: dict[str, Any] = {}

        if cpu is None:
            items.append((Status.OK, "CPU 首次采样, 下次运行给出使用率"))
        else:
            busy, iowait = cpu
            st = evaluate(busy, o.cpu_warn, o.cpu_crit)
            items.append((st, f"CPU {busy:.0f}%"))
            metrics.append(_pct("cpu_percent", busy, o.cpu_warn, o.cpu_crit))
            metrics.append(_pct("iowait_percent", iowait, None, None))
            details.update(cpu_percent=round(busy, 1), iowait_percent=round(iowait, 1))

        mem, swap = memory()
        st = evaluate(mem.percent, o.memory_warn, o.memory_crit)
        items.append((st, f"内存 {mem.percent:.0f}%"))
        metrics.append(_pct("memory_percent", mem.percent, o.memory_warn, o.memory_crit))
        metrics.append(Metric("memory_available_bytes", float(mem.available), "B", min=0.0,
                              max=float(mem.total)))
        details.update(memory_total=mem.total, memory_available=mem.available)

        if swap.total > 0:
            st = evaluate(swap.percent, o.swap_warn, o.swap_crit)
            items.append((st, f"交换 {swap.percent:.0f}%"))
            metrics.append(_pct("swap_percent", swap.percent, o.swap_warn, o.swap_crit))
            details.update(swap_total=swap.total, swap_used=swap.used)

        cores = os.cpu_count() or 1
        loads = [v / cores for v in os.getloadavg()]
        warns, crits = o.load_ranges()
        load_status = worst(evaluate(v, w, c) for v, w, c in zip(loads, warns, crits))
        items.append((load_status, "负载/核 " + "/".join(f"{v:.2f}" for v in loads)))
        for window, v, w, c in zip((1, 5, 15), loads, warns, crits):
            metrics.append(Metric(f"load{window}_per_core", round(v, 3), "", as_text(w), as_text(c), 0.0))
        details.update(cores=cores, load=[round(v * cores, 2) for v in loads])

        order = sorted(range(len(items)), key=lambda i: -items[i][0].severity)  # stable: worst first
        summary = ", ".join(items[i][1] for i in order)
        return Outcome(worst(s for s, _ in items), summary, metrics, details)


def _pct(name: str, value: float, warn: Optional[str], crit: Optional[str]) -> Metric:
    return Metric(name, round(value, 1), "%", as_text(warn), as_text(crit), 0.0, 100.0)
