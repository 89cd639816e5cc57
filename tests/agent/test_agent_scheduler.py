"""The scheduler's turns: one grid per interval, a reload's new check soon and then on the grid."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from agent.scheduler import MAX_SPLAY, Scheduler, Slot
from checks.model import Result
from checks.spec import parse_spec


def specs(*names: str, interval: str = "60s") -> tuple[list[Any], dict[str, Any]]:
    raw = {n: {"name": n, "type": "disk", "system": "os", "interval": interval, "mounts": ["/"]} for n in names}
    return [parse_spec(r, n) for n, r in raw.items()], raw


def test_a_reloaded_check_runs_soon_then_joins_its_intervals_turns(tmp_path: Path) -> None:
    got: list[str] = []
    done = threading.Event()

    def emit(slot: Slot, result: Result) -> None:
        got.append(result.check)
        done.set()

    s = Scheduler("h", tmp_path, emit, lambda name: None)

    def run_until(names: set[str]) -> None:
        deadline = time.monotonic() + MAX_SPLAY + 5
        while not names <= set(got) and time.monotonic() < deadline:
            time.sleep(min(s.tick(), 0.05))
            done.wait(0.01)
        assert names <= set(got), got

    s.apply(*specs("a"), "h")
    run_until({"a"})  # the grid of 60 s has begun
    s.apply(*specs("a", "b"), "h")
    a, b = s.slots["a"], s.slots["b"]
    assert a.due is not None and b.due is not None
    assert b.due - time.monotonic() <= MAX_SPLAY + 0.01  # not at the grid's next turn, 60 s away
    run_until({"b"})
    s.tick()
    assert a.due == b.due  # from now on in the same turns
    assert 50 < a.due - time.monotonic() <= 60
    s.stop(1.0)


def test_checks_of_one_interval_share_their_first_turn_and_others_do_not_wait_for_it(tmp_path: Path) -> None:
    s = Scheduler("h", tmp_path, lambda slot, result: None, lambda name: None)
    one, raw_one = specs("a", "b", "c")
    two, raw_two = specs("d", interval="30s")
    s.apply(one + two, {**raw_one, **raw_two}, "h")
    dues = {n: slot.due for n, slot in s.slots.items()}
    assert dues["a"] == dues["b"] == dues["c"]
    now = time.monotonic()
    assert all(d is not None and now <= d <= now + MAX_SPLAY for d in dues.values())
    s.stop(1.0)
