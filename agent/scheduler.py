"""Runs the configured checks on their intervals, each in its own worker thread with a timeout.

The `schedule` library decides when a check is due; the work happens in threads so a hung check
never delays the others. A timed-out run yields one UNKNOWN result ("检查超时") and its thread is
abandoned; while it still runs, later turns of that check are skipped and counted.
"""
from __future__ import annotations

import datetime
import logging
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import schedule

from checks.base import Check, Outcome, StateStore
from checks.model import Result, Status, utcnow
from checks.runner import instantiate, run_check, timeout_result, to_result
from checks.spec import CheckSpec

log = logging.getLogger("agent.scheduler")

MAX_SPLAY = 5.0  # seconds: first runs are spread over this much to avoid thundering herds


class Run:
    """One turn of one check: finished or timed out, whichever comes first, wins."""

    __slots__ = ("deadline", "done", "lock", "started", "t0", "timed_out")

    def __init__(self, timeout: float) -> None:
        self.started = utcnow()
        self.t0 = time.monotonic()
        self.deadline = self.t0 + timeout
        self.lock = threading.Lock()
        self.done = False
        self.timed_out = False


class Slot:
    """A configured check with its long-lived instance (log positions stay open between runs)."""

    def __init__(self, spec: CheckSpec, raw: Any, check: Optional[Check], init_error: str = "") -> None:
        self.spec = spec
        self.raw = raw
        self.check = check
        self.init_error = init_error
        self.job: Optional[schedule.Job] = None
        self.thread: Optional[threading.Thread] = None
        self.run: Optional[Run] = None

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


def state_path(state_dir: Path, name: str) -> Path:
    return Path(state_dir) / "checks" / f"{name}.json"


def make_slot(spec: CheckSpec, raw: Any, state: StateStore) -> Slot:
    try:
        return Slot(spec, raw, instantiate(spec, state))
    except Exception as e:  # a check that cannot start reports UNKNOWN each turn instead
        return Slot(spec, raw, None, f"{type(e).__name__}: {e}")


class Scheduler:
    def __init__(self, host: str, state_dir: Path, emit: Callable[[Slot, Result], None],
                 on_skip: Callable[[str], None]) -> None:
        self.host = host
        self.state_dir = Path(state_dir)
        self._emit = emit
        self._on_skip = on_skip
        self._sched = schedule.Scheduler()
        self.slots: dict[str, Slot] = {}
        self._retiring: list[Slot] = []

    # -- configuration ------------------------------------------------------------------------

    def apply(self, specs: list[CheckSpec], raw: dict[str, Any], host: str) -> tuple[int, int, int]:
        """Start, keep or replace checks; returns (added, kept, removed). Unchanged ones keep
        their instance and their place in the schedule."""
        self.host = host
        added = kept = 0
        new: dict[str, Slot] = {}
        for spec in specs:
            old = self.slots.get(spec.name)
            if old is not None and old.raw == raw[spec.name]:
                new[spec.name] = old
                kept += 1
                continue
            if old is not None:
                self._retire(old)
            slot = make_slot(spec, raw[spec.name], StateStore(state_path(self.state_dir, spec.name)))
            if slot.init_error:
                log.warning("check %s cannot start: %s", spec.name, slot.init_error)
            splay = random.uniform(0, min(spec.interval, MAX_SPLAY))
            slot.job = self._sched.every(spec.interval).seconds.do(self._fire, slot)
            slot.job.next_run = datetime.datetime.now() + datetime.timedelta(seconds=splay)
            new[spec.name] = slot
            added += 1
        removed = 0
        for name, old in self.slots.items():
            if name not in new:
                self._retire(old)
                removed += 1
        self.slots = new
        return added, kept, removed

    def _retire(self, slot: Slot) -> None:
        if slot.job is not None:
            self._sched.cancel_job(slot.job)
            slot.job = None
        if slot.busy:
            self._retiring.append(slot)  # closed once its thread ends
        else:
            _close(slot)

    # -- running ------------------------------------------------------------------------------

    def tick(self) -> float:
        """Start due checks, time out overdue ones; returns how long the caller may sleep."""
        self._sched.run_pending()
        now = time.monotonic()
        wake = now + 30.0
        for slot in self.slots.values():
            run = slot.run
            if run is None or run.done or run.timed_out:
                continue
            if now >= run.deadline:
                self._time_out(slot, run, now)
            else:
                wake = min(wake, run.deadline)
        if self._retiring:
            for slot in [s for s in self._retiring if not s.busy]:
                self._retiring.remove(slot)
                _close(slot)
            wake = min(wake, now + 1.0)
        idle = self._sched.idle_seconds
        sleep = wake - now
        if idle is not None:
            sleep = min(sleep, idle)
        return max(0.0, sleep)

    def _fire(self, slot: Slot) -> None:
        if slot.busy:
            self._on_skip(slot.spec.name)
            log.info("check %s still running from its previous turn; this turn skipped", slot.spec.name)
            return
        run = Run(slot.spec.timeout)
        slot.run = run
        slot.thread = threading.Thread(target=self._work, args=(slot, run), name=f"check:{slot.spec.name}",
                                       daemon=True)
        slot.thread.start()

    def _work(self, slot: Slot, run: Run) -> None:
        if slot.check is None:
            result = to_result(Outcome(Status.UNKNOWN, f"检查初始化失败: {slot.init_error}"),
                               slot.spec, self.host, run.started, 0.0)
        else:
            result = run_check(slot.check, slot.spec, self.host)
        with run.lock:
            if run.timed_out:
                log.info("check %s finished after its timeout (%.1fs); result discarded", slot.spec.name,
                         time.monotonic() - run.t0)
                return
            run.done = True
        self._emit(slot, result)

    def _time_out(self, slot: Slot, run: Run, now: float) -> None:
        with run.lock:
            if run.done:
                return
            run.timed_out = True
        log.info("check %s timed out after %gs; its thread is abandoned", slot.spec.name, slot.spec.timeout)
        self._emit(slot, timeout_result(slot.spec, self.host, run.started, now - run.t0))

    def stop(self, wait: float) -> None:
        """Stop scheduling, give running checks `wait` seconds, close what is idle."""
        self._sched.clear()
        deadline = time.monotonic() + wait
        for slot in list(self.slots.values()) + self._retiring:
            if slot.thread is not None:
                slot.thread.join(max(0.0, deadline - time.monotonic()))
        for slot in list(self.slots.values()) + self._retiring:
            if not slot.busy:
                _close(slot)
            else:
                log.info("check %s still running at exit; abandoned", slot.spec.name)
        self.slots = {}
        self._retiring = []


def _close(slot: Slot) -> None:
    if slot.check is None:
        return
    try:
        slot.check.close()
    except Exception as e:
        log.info("closing check %s: %s", slot.spec.name, e)
    slot.check = None
