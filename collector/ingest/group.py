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
from dataclasses import dataclass
from typing import Any, Generic, Optional, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from collector.db import write_gate
from collector.ingest.tx import Tx

T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    work: Callable[[Tx], T]
    key: int
    taken: bool = False  # in a group being written
    done: bool = False
    value: Optional[T] = None
    error: Optional[BaseException] = None


class GroupWriter:
    def __init__(self, engine: Engine, max_group: int = 8, writers: int = 2) -> None:
        self.engine = engine
        self.max_group = max(1, max_group)
        self.writers = max(1, writers)
        self._cond = threading.Condition()
        self._queue: list[_Job[Any]] = []
        self._writing = 0
        # for the /metrics histogram and the tests: sizes of the groups written, failed groups
        self.on_group: Optional[Callable[[int], None]] = None
        self.failed_groups = 0

    def run(self, work: Callable[[Tx], T], key: int = 0) -> T:
        """Run `work` inside a write transaction (possibly shared with other batches) and return its value
        once that transaction has committed; its exception if it failed."""
        job: _Job[T] = _Job(work, key)
        with self._cond:
            self._queue.append(job)
        while True:
            with self._cond:
                # wait while another writer has taken this job, or every writer is busy
                while not job.done and (job.taken or self._writing >= self.writers):
                    self._cond.wait()
                if job.done:
                    break
                self._writing += 1
                group, self._queue = self._queue[:self.max_group], self._queue[self.max_group:]
                for taken in group:
                    taken.taken = True
            try:
                self._write(group)  # this job's group, or the groups queued before it
            finally:
                with self._cond:
                    self._writing -= 1
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        return job.value  # type: ignore[return-value]

    def _write(self, group: list[_Job[Any]]) -> None:
        group.sort(key=lambda j: j.key)
        try:
            with write_gate(self.engine), self.engine.connect() as conn, conn.begin():
                values = [job.work(Tx(conn)) for job in group]
        except BaseException as e:  # handed to the batch's own caller (followers must never hang)
            if len(group) == 1 and not _integrity_error(e):
                group[0].error = e
            else:
                self.failed_groups += 1
                for job in group:
                    self._alone(job)
        else:
            for job, value in zip(group, values):
                job.value = value
        for job in group:
            job.done = True
        if self.on_group is not None:
            self.on_group(len(group))

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
