"""Group commit: batches that arrive while another is being written go together in one transaction.

Each collector process has `writers` writer threads of its own (started on first use; one is the default,
docs/benchmarks.md); the event loop queues a validated batch here and a free writer takes up to `max_group`
queued batches into one transaction, in host order so that concurrent groups lock host rows in the same
order. A batch alone is written at once. A group that fails for any reason is rolled back and its batches
are written again one by one, each in its own transaction and careful (`Tx.careful`: INSERT … ON CONFLICT,
not COPY), so a batch's error is its own and costs the others only a retry. On PostgreSQL a group is
written step by step for all its batches at once (`many`, collector.ingest.pg_group). docs/ingest.md.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Generic, Optional, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from collector.db import write_gate
from collector.ingest.tx import Tx

T = TypeVar("T")
log = logging.getLogger(__name__)


class _Job(Generic[T]):
    """One batch's write and who to tell when its transaction has committed (or failed)."""

    __slots__ = ("error", "key", "on_done", "value", "work")

    def __init__(self, work: Callable[[Tx], T], key: int, on_done: Callable[[_Job[T]], None]) -> None:
        self.work = work
        self.key = key
        self.on_done = on_done
        self.value: Optional[T] = None
        self.error: Optional[BaseException] = None

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class GroupWriter:
    def __init__(self, engine: Engine, max_group: int = 16, writers: int = 1,
                 many: Optional[Callable[[Connection, list[Any]], list[Any]]] = None) -> None:
        self.engine = engine
        # writes a group's works in its transaction, values in their order (collector.ingest.pg_group);
        # without it, one work after the other
        self.many = many
        self.max_group = max(1, max_group)
        self.writers = max(1, writers)
        self._cond = threading.Condition()
        self._queue: list[_Job[Any]] = []
        self._writing = 0  # groups being written now
        self._threads: list[threading.Thread] = []
        self._closed = False
        # for the /metrics histogram and the tests: sizes of the groups written, failed groups
        self.on_group: Optional[Callable[[int], None]] = None
        self.failed_groups = 0

    def submit(self, work: Callable[[Tx], T], key: int, on_done: Callable[[_Job[T]], None]) -> None:
        """Queue `work` for a write transaction (perhaps shared with other batches); `on_done(job)` is called
        on a writer thread once that transaction has committed or failed."""
        job = _Job(work, key, on_done)
        with self._cond:
            if self._closed:
                raise RuntimeError("ingest writer is closed")
            self._queue.append(job)
            if len(self._threads) < self.writers:  # started by the process that uses them
                thread = threading.Thread(target=self._serve, name=f"ingest-writer-{len(self._threads)}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
            self._cond.notify()  # an idle writer, if any; a busy one takes the queue when it is done

    def run(self, work: Callable[[Tx], T], key: int = 0) -> T:
        """`work`'s value once its transaction has committed; its exception if it failed (any thread)."""
        finished = threading.Lock()
        finished.acquire()
        done: list[_Job[T]] = []

        def wake(job: _Job[T]) -> None:
            done.append(job)
            finished.release()
        self.submit(work, key, wake)
        finished.acquire()
        return done[0].outcome()

    async def run_async(self, work: Callable[[Tx], T], key: int = 0) -> T:
        """`run` for the event loop: waits without holding a thread."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Job[T]] = loop.create_future()
        self.submit(work, key, lambda job: loop.call_soon_threadsafe(_settle, future, job))
        return (await future).outcome()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer threads."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    if self._closed:
                        return
                    self._cond.wait()
                group, self._queue = self._queue[:self.max_group], self._queue[self.max_group:]
                self._writing += 1
            try:
                self._write(group)
            finally:
                with self._cond:
                    self._writing -= 1

    def _write(self, queued: list[_Job[Any]]) -> None:
        group = sorted(queued, key=lambda j: j.key)
        try:
            try:
                with write_gate(self.engine), self.engine.connect() as conn, conn.begin():
                    if self.many is not None and len(group) > 1:
                        values = self.many(conn, [job.work for job in group])
                    else:
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
        finally:  # whatever happened, every caller hears of its batch
            for job in group:
                try:
                    job.on_done(job)
                except Exception:  # a waiter that went away (its loop closed) must not stop the writer
                    log.exception("ingest writer: could not hand a batch's outcome back")

    def _alone(self, job: _Job[Any]) -> None:
        try:
            with write_gate(self.engine), self.engine.connect() as conn, conn.begin():
                job.value = job.work(Tx(conn, careful=True))
        except BaseException as e:
            job.error = e


def _settle(future: asyncio.Future[Any], job: _Job[Any]) -> None:
    if not future.done():  # the request may have been cancelled (client gone): its batch is written anyway
        future.set_result(job)


def _integrity_error(e: BaseException) -> bool:
    """A constraint violation, from SQLAlchemy or straight from the driver (the hot path uses the driver
    connection): SQLSTATE class 23 on PostgreSQL."""
    return isinstance(e, (IntegrityError, sqlite3.IntegrityError)) or str(getattr(e, "sqlstate", "")).startswith("23")
