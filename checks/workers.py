"""Reusable worker threads for check runs and for calls that may hang.

Starting a thread costs more than most checks here (about 0.15 ms of CPU, and each thread that
ever ran keeps its stack pages), so the agent hands work to threads that wait for it. A job that
runs longer than `patience` seconds no longer counts as quick: it keeps its thread (a thread
blocked in the kernel cannot be stopped) and the queue gets another one, so a slow or hung job
never holds the others back for longer than that. While jobs wait, `balance()` must be called
again after the seconds it returns (the agent's scheduler does, from its tick).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable, Optional

Job = tuple[Callable[..., Any], tuple[Any, ...]]


class _Worker:
    __slots__ = ("event", "job", "started")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.job: Optional[Job] = None
        self.started = 0.0  # monotonic time the current job began


class Workers:
    def __init__(self, name: str, parallel: int = 4, patience: float = 0.5, idle_exit: float = 900.0) -> None:
        self.name = name
        self.parallel = parallel    # quick jobs at once; more wait in the queue
        self.patience = patience    # seconds after which a running job stops counting as quick
        self.idle_exit = idle_exit  # an idle thread ends after this long without work
        self._lock = threading.Lock()
        self._queue: deque[Job] = deque()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._lock:
            self._queue.append((fn, args))
            self._balance(time.monotonic())

    def balance(self) -> Optional[float]:
        """Start threads for jobs queued behind slow ones; seconds until this is worth calling
        again (None: nothing waits)."""
        with self._lock:
            now = time.monotonic()
            self._balance(now)
            if not self._queue:
                return None
            quick = [w.started for w in self._busy if now - w.started < self.patience]
            return max(0.0, min(quick) + self.patience - now) if quick else 0.0

    @property
    def threads(self) -> int:
        with self._lock:
            return len(self._idle) + len(self._busy)

    def _balance(self, now: float) -> None:
        while self._queue and self._idle:
            w = self._idle.pop()
            w.job = self._queue.popleft()
            w.started = now
            self._busy.add(w)
            w.event.set()
        quick = sum(1 for w in self._busy if now - w.started < self.patience)
        while self._queue and quick < self.parallel:
            w = _Worker()
            w.job = self._queue.popleft()
            w.started = now
            self._busy.add(w)
            try:
                threading.Thread(target=self._loop, args=(w,), name=f"{self.name}-worker", daemon=True).start()
            except BaseException:
                self._busy.discard(w)
                self._queue.appendleft(w.job)
                raise
            quick += 1

    def _loop(self, w: _Worker) -> None:
        while True:
            job = w.job
            w.job = None
            if job is not None:
                fn, args = job
                try:
                    fn(*args)
                except BaseException:  # a job reports its own errors; the thread carries on
                    pass
            with self._lock:
                if self._queue:
                    w.job = self._queue.popleft()
                    w.started = time.monotonic()
                    continue
                self._busy.discard(w)
                w.event.clear()
                self._idle.append(w)
            if not w.event.wait(self.idle_exit):
                with self._lock:
                    if w in self._idle:  # nobody handed it a job meanwhile
                        self._idle.remove(w)
                        return
            # handed a job: w.job is set and w is in _busy
