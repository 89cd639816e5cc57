"""Calls that may hang forever (statvfs on a dead NFS mount), run in worker threads under a deadline.

A thread blocked in the kernel cannot be killed. So a call that times out is left running in its
daemon thread and its key stays registered: no second thread is started for the same key until
the first one returns (a later caller waits on the call in flight instead), otherwise every run
would leak one more blocked thread.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from checks.workers import Workers


class CallTimeout(Exception):
    """The call did not return before the deadline; it keeps running in its thread."""

    def __init__(self, key: str, timeout: float) -> None:
        super().__init__(f"{key}: no answer within {timeout:g}s")
        self.key = key
        self.timeout = timeout


class StillStuck(Exception):
    """A previous call for the same key is still blocked; no new thread was started."""

    def __init__(self, key: str, blocked_for: float) -> None:
        super().__init__(f"{key}: previous call still blocked after {blocked_for:.0f}s")
        self.key = key
        self.blocked_for = blocked_for


@dataclass
class _Call:
    """One call in flight, with its value or error once it returns."""

    key: str
    started: float
    done: threading.Event
    value: Any = None
    error: BaseException | None = None


class HungCallRegistry:
    """Keys of calls in flight; a key stays registered until its thread returns."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, _Call] = {}
        # Idle threads are reused; a new one is started whenever none is idle (patience 0), so a
        # call never waits for another.
        self._workers = Workers("timed", parallel=1, patience=0.0)

    def stuck_keys(self) -> list[str]:
        with self._lock:
            return sorted(self._running)

    def start(self, key: str, fn: Callable[..., Any], *args: Any) -> tuple[_Call, bool]:
        """Start `fn(*args)` in a thread, or join the call already in flight for `key`
        (then True is returned with it: no second thread is started)."""
        with self._lock:
            previous = self._running.get(key)
            if previous is not None:
                return previous, True
            call = _Call(key, time.monotonic(), threading.Event())
            self._running[key] = call

        def work() -> None:
            try:
                call.value = fn(*args)
            except BaseException as e:  # handed to the caller, never lost in the thread
                call.error = e
            finally:
                with self._lock:
                    if self._running.get(key) is call:
                        del self._running[key]
                call.done.set()

        try:
            self._workers.submit(work)
        except BaseException:
            with self._lock:
                self._running.pop(key, None)
            raise
        return call, False

    def call_many(self, calls: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]],
                  timeout: float) -> dict[str, Any]:
        """Run every call in parallel; each key maps to its value or to the exception it ended with
        (CallTimeout, StillStuck or whatever the function raised). Returns by `timeout` at the latest.

        A key whose previous call is still in flight is not started again: a call already older
        than `timeout` is StillStuck at once; a younger one (another check asking at the same
        moment) is awaited like the others."""
        results: dict[str, Any] = {}
        pending: dict[str, tuple[_Call, bool]] = {}
        now = time.monotonic()
        for key, (fn, args) in calls.items():
            call, joined = self.start(key, fn, *args)
            if joined and now - call.started >= timeout:
                results[key] = StillStuck(key, now - call.started)  # known stuck: do not wait again
            else:
                pending[key] = (call, joined)
        deadline = now + timeout
        for key, (call, joined) in pending.items():
            if not call.done.wait(max(0.0, deadline - time.monotonic())):
                if joined:
                    results[key] = StillStuck(key, time.monotonic() - call.started)
                else:
                    results[key] = CallTimeout(key, timeout)
            elif call.error is not None:
                results[key] = call.error
            else:
                results[key] = call.value
        return results

    def call(self, key: str, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """One call under `timeout`; raises CallTimeout, StillStuck or the function's own error."""
        outcome = self.call_many({key: (fn, args)}, timeout)[key]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


# Shared by all checks of the agent process: a mount stuck for one check is stuck for all.
REGISTRY = HungCallRegistry()
