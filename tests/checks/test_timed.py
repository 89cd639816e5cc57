"""Calls under a deadline in worker threads; a stuck key never gets a second thread."""
from __future__ import annotations

import threading
import time

import pytest

from checks.timed import CallTimeout, HungCallRegistry, StillStuck


def test_value_and_error_come_back() -> None:
    r = HungCallRegistry()
    assert r.call("k", lambda a, b: a + b, 1, 2, timeout=5) == 3
    with pytest.raises(ZeroDivisionError):
        r.call("k", lambda: 1 / 0, timeout=5)
    assert r.stuck_keys() == []


def test_stuck_key_times_out_then_is_reported_at_once_without_a_new_thread() -> None:
    r = HungCallRegistry()
    release = threading.Event()
    calls = []

    def hang() -> str:
        calls.append(1)
        release.wait()
        return "late"

    with pytest.raises(CallTimeout):
        r.call("nfs", hang, timeout=0.05)
    with pytest.raises(StillStuck) as info:
        r.call("nfs", hang, timeout=0.05)
    assert info.value.blocked_for >= 0.05
    assert calls == [1] and r.stuck_keys() == ["nfs"]
    out = r.call_many({"nfs": (hang, ()), "ok": (lambda: 7, ())}, timeout=0.05)
    assert isinstance(out["nfs"], StillStuck) and out["ok"] == 7
    release.set()
    deadline = time.monotonic() + 5
    while r.stuck_keys() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.stuck_keys() == []
    assert r.call("nfs", lambda: "again", timeout=5) == "again"


def test_a_second_caller_joins_the_call_in_flight() -> None:
    r = HungCallRegistry()
    release = threading.Event()
    calls = []

    def slow() -> str:
        calls.append(1)
        release.wait(5)
        return "shared"

    call, joined = r.start("m", slow)
    assert not joined
    again, joined = r.start("m", slow)
    assert again is call and joined  # no second thread
    out = r.call_many({"m": (slow, ())}, timeout=0.05)  # joined, and still not back
    assert isinstance(out["m"], StillStuck)
    threading.Timer(0.3, release.set).start()
    assert r.call("m", slow, timeout=10) == "shared"  # waited on the call in flight
    assert calls == [1]
