"""Runs the configured checks on their intervals, each in its own worker thread with a timeout.

Checks of the same interval share one phase: they are due together, in one turn (the phase is
random within the first 5 s, per agent, so a fleet started at once does not report at once).
One turn means one process-table walk for its process checks and one spool transaction for its
results (agent.daemon). The work happens in threads so a hung check never delays the others. A
timed-out run yields one UNKNOWN result ("检查超时") and its thread is abandoned; while it still
runs, later turns of that check are skipped and counted. Times are monotonic: a change of the
wall clock neither delays nor repeats a turn.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from agent.backoff import uniform
from checks.base import Check, Outcome, StateStore
from checks.model import Result, Status, utcnow
from checks.runner import instantiate, run_check, timeout_result, to_result
from checks.spec import CheckSpec
from checks.workers import Workers

log = logging.getLogger(__name__)

MAX_SPLAY = 5.0  # seconds: first runs are spread over this much to avoid thundering herds
WORKERS = 1      # checks run at once while they are quick
WORKER_PATIENCE = 0.5  # seconds: a run slower than this no longer holds the queue back


class Run:
    """One turn of one check: finished or timed out, whichever comes first, wins."""

    __slots__ = ("deadline", "done", "ended", "lock", "started", "t0", "timed_out")

    def __init__(self, timeout: float) -> None:
        self.started = utcnow()
        self.t0 = time.monotonic()
        self.deadline = self.t0 + timeout
        self.lock = threading.Lock()
        self.done = False
        self.timed_out = False
        self.ended = threading.Event()  # its work returned (also long after a timeout)


class Slot:
    """A configured check with its long-lived instance (log positions stay open between runs)."""

    def __init__(self, spec: CheckSpec, raw: Any, check: Optional[Check], init_error: str = "") -> None:
        self.spec = spec
        self.raw = raw
        self.check = check
        self.init_error = init_error
        self.due: Optional[float] = None  # monotonic time of the next turn; None once retired
        self.run: Optional[Run] = None

    @property
    def busy(self) -> bool:
        """Its last run is queued or running (a timed-out run that never returned stays busy)."""
        return self.run is not None and not self.run.ended.is_set()


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
        self._phase: dict[float, float] = {}  # interval -> monotonic time its turns are aligned to
        # Reused threads; a run slower than `patience` lets the queue start another one.
        self.workers = Workers("check", parallel=WORKERS, patience=WORKER_PATIENCE)
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
            slot.due = self._first_turn(spec.interval, time.monotonic())
            new[spec.name] = slot
            added += 1
        removed = 0
        for name, old in self.slots.items():
            if name not in new:
                self._retire(old)
                removed += 1
        self.slots = new
        return added, kept, removed

    def _first_turn(self, interval: float, now: float) -> float:
        """The first run of a check of `interval`: the grid's phase is random within MAX_SPLAY
        for the first check of an interval; a check a reload adds later joins the next turn of
        its grid if that comes within MAX_SPLAY, else runs once within MAX_SPLAY (its later runs
        are on the grid, see tick)."""
        splay = min(interval, MAX_SPLAY)
        anchor = self._phase.get(interval)
        if anchor is None:
            anchor = self._phase[interval] = now + uniform(0.0, splay)
        turn = _next_on_grid(anchor, interval, now)
        return turn if turn - now <= splay else now + uniform(0.0, splay)

    def _retire(self, slot: Slot) -> None:
        slot.due = None
        if slot.busy:
            self._retiring.append(slot)  # closed once its thread ends
        else:
            _close(slot)

    # -- running ------------------------------------------------------------------------------

    def tick(self) -> float:
        """Start due checks, time out overdue ones; returns how long the caller may sleep (until
        the next turn or deadline: no wake-up in between)."""
        now = time.monotonic()
        for slot in list(self.slots.values()):
            if slot.due is not None and now >= slot.due:
                interval = slot.spec.interval
                slot.due = _next_on_grid(self._phase.get(interval, slot.due), interval, now)
                if slot.due <= now:
                    slot.due += interval
                self._fire(slot)
        now = time.monotonic()
        wake = now + 3600.0
        for slot in self.slots.values():
            if slot.due is not None:
                wake = min(wake, slot.due)
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
        again = self.workers.balance()
        if again is not None:
            wake = min(wake, now + again)
        return max(0.0, wake - now)

    def running(self) -> int:
        """Runs started and neither finished nor timed out yet."""
        n = 0
        for slot in self.slots.values():
            run = slot.run
            if run is not None and not run.done and not run.timed_out:
                n += 1
        return n

    def _fire(self, slot: Slot) -> None:
        if slot.busy:
            self._on_skip(slot.spec.name)
            log.info("check %s still running from its previous turn; this turn skipped", slot.spec.name)
            return
        run = Run(slot.spec.timeout)
        slot.run = run
        self.workers.submit(self._work, slot, run)

    def _work(self, slot: Slot, run: Run) -> None:
        try:
            self._run(slot, run)
        except Exception:  # never expected: a check's own errors are its result
            log.exception("check %s: internal error", slot.spec.name)
        finally:
            run.ended.set()

    def _run(self, slot: Slot, run: Run) -> None:
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
        """Stop scheduling, give running checks `wait` seconds (a run already timed out is not
        waited for: it was abandoned), close what is idle."""
        for slot in self.slots.values():
            slot.due = None
        deadline = time.monotonic() + wait
        for slot in list(self.slots.values()) + self._retiring:
            run = slot.run
            if run is not None and not run.timed_out:
                run.ended.wait(max(0.0, min(deadline, run.deadline) - time.monotonic()))
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
        slot.check.state.flush()
        slot.check.close()
    except Exception as e:
        log.info("closing check %s: %s", slot.spec.name, e)
    slot.check = None


def _next_on_grid(anchor: float, interval: float, now: float) -> float:
    """The first time anchor + k * interval (k >= 0) that is not before `now`."""
    if now <= anchor:
        return anchor
    return anchor + math.ceil((now - anchor) / interval - 1e-9) * interval
