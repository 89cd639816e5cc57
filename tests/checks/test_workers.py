"""Reused worker threads: quick jobs share a few threads, a hung one never holds the queue back."""
from __future__ import annotations

import threading
import time

from checks.workers import Workers


def test_quick_jobs_reuse_the_same_threads() -> None:
    w = Workers("t", parallel=2, patience=5.0)
    seen: list[str] = []
    for _ in range(3):
        done = [threading.Event() for _ in range(10)]
        for e in done:
            w.submit(lambda e=e: (seen.append(threading.current_thread().name), e.set()))
        assert all(e.wait(5) for e in done)
    assert len(seen) == 30
    assert w.threads <= 2


def test_a_hung_job_keeps_its_thread_and_the_queue_goes_on() -> None:
    w = Workers("t", parallel=1, patience=0.2)
    release = threading.Event()
    w.submit(release.wait, 10)
    done = threading.Event()
    w.submit(done.set)
    assert not done.wait(0.1)  # queued behind a job that still counts as quick
    time.sleep(0.15)
    again = w.balance()  # the first job is now slow: the queue gets a thread of its own
    assert again is None or again == 0.0
    assert done.wait(5)
    assert w.threads == 2
    release.set()


def test_balance_says_when_to_look_again() -> None:
    w = Workers("t", parallel=1, patience=0.5)
    release = threading.Event()
    w.submit(release.wait, 10)
    w.submit(lambda: None)
    again = w.balance()
    assert again is not None and 0.3 < again <= 0.5
    release.set()


def test_a_failing_job_does_not_kill_its_thread() -> None:
    w = Workers("t", parallel=1, patience=5.0)
    w.submit(lambda: 1 / 0)
    done = threading.Event()
    w.submit(done.set)
    assert done.wait(5)
    assert w.threads == 1
