"""Group commit: batches that arrive while another is being written go together in one transaction.

Every ingest transaction pays fixed costs besides its rows: a pool checkout, BEGIN, COMMIT (a WAL flush on
PostgreSQL; on SQLite the write lock and the WAL frames of the pages the batch touched, many of them the
same pages as the next batch's). Under load the worker threads of one process queue here; a thread that
finds fewer than `writers` transactions at work becomes a writer (leader/follower, no extra thread) and
writes up to `max_group` queued batches in one transaction, in host order so that concurrent groups lock
host rows in the same order. Two writers per process keep the database busy while one waits on a round
trip (on SQLite the write gate serialises them anyway).
A group that fails for any reason is rolled back and its batches are written again one by one, each in its
own transaction, so a batch's error (a rotated token, a database error) is its own and costs the others
only a retry. Retries are careful (`Tx.careful`): a batch whose optimistic COPY met a result stored before
(an integrity error, even in a group of one) goes in by INSERT … ON CONFLICT the second time.
A batch alone is written at once: grouping adds no wait when the collector is idle.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Generic, Optional, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from collector.db import write_gate
from collector.ingest.tx import Tx

T = TypeVar("T")


class _Job(Generic[T]):
    """One batch's write, and how its waiting thread is woken: `wake` is a lock held from the start and
    released once, when the job is done or has been given a group to write (its thread is then a writer)."""

    __slots__ = ("done", "error", "group", "key", "value", "wake", "work")

    def __init__(self, work: Callable[[Tx], T], key: int) -> None:
        self.work = work
        self.key = key
        self.group: Optional[list[_Job[Any]]] = None
        self.done = False
        self.value: Optional[T] = None
        self.error: Optional[BaseException] = None
        self.wake = threading.Lock()
        self.wake.acquire()


class GroupWriter:
    def __init__(self, engine: Engine, max_group: int = 8, writers: int = 2) -> None:
        self.engine = engine
        self.max_group = max(1, max_group)
        self.writers = max(1, writers)
        self._lock = threading.Lock()
        self._queue: list[_Job[Any]] = []  # never empty while fewer than `writers` groups are being written
        self._writing = 0
        # for the /metrics histogram and the tests: sizes of the groups written, failed groups
        self.on_group: Optional[Callable[[int], None]] = None
        self.failed_groups = 0

    def run(self, work: Callable[[Tx], T], key: int = 0) -> T:
        """Run `work` inside a write transaction (possibly shared with other batches) and return its value
        once that transaction has committed; its exception if it failed.
        Only the threads that have something to do are woken: a finished writer hands its place to the
        oldest waiting batch together with the group it is to write, and wakes each batch it wrote."""
        job: _Job[T] = _Job(work, key)
        with self._lock:
            self._queue.append(job)
            if self._writing < self.writers:
                self._writing += 1
                job.group = self._take()
        if job.group is None:
            job.wake.acquire()  # until written by another writer, or handed a group to write
        if job.group is not None:
            try:
                self._write(job.group)
            finally:
                self._hand_over()
        if job.error is not None:
            raise job.error
        return job.value  # type: ignore[return-value]

    def _take(self) -> list[_Job[Any]]:
        group, self._queue = self._queue[:self.max_group], self._queue[self.max_group:]
        return group

    def _hand_over(self) -> None:
        with self._lock:
            if not self._queue:
                self._writing -= 1
                return
            group = self._take()
            group[0].group = group
        group[0].wake.release()

    def _write(self, queued: list[_Job[Any]]) -> None:
        group = sorted(queued, key=lambda j: j.key)
        try:
            try:
                with write_gate(self.engine), self.engine.connect() as conn, conn.begin():
                    values = [job.work(Tx(conn)) for job in group]
            except BaseException as e:  # handed to the batch's own caller
                if len(group) == 1 and not _integrity_error(e):
                    group[0].error = e
                else:
                    self.failed_groups += 1
                    for job in group:
                        self._alone(job)
            else:
                for job, value in zip(group, values):
                    job.value = value
            if self.on_group is not None:
                self.on_group(len(group))
        finally:  # whatever happened, no waiting thread is left behind
            for job in group:
                job.done = True
                if job.group is None:  # the others' threads wait; the writer's own is running this
                    job.wake.release()

    def _alone(self, job: _Job[Any]) -> None:
        try:
            with write_gate(self.engine), self.engine.connect() as conn, conn.begin():
                job.value = job.work(Tx(conn, careful=True))
        except BaseException as e:
            job.error = e


def _integrity_error(e: BaseException) -> bool:
    """A constraint violation, from SQLAlchemy or straight from the driver (the hot path uses the driver
    connection): SQLSTATE class 23 on PostgreSQL."""
    return isinstance(e, (IntegrityError, sqlite3.IntegrityError)) or str(getattr(e, "sqlstate", "")).startswith("23")
