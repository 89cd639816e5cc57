"""Runs each periodic job once per period across all collector processes.

Each process wakes every few seconds and, for each due job, tries a transaction-scoped lock:
PostgreSQL `pg_try_advisory_xact_lock`, SQLite the database write lock (BEGIN IMMEDIATE). The
winner re-reads the job's last run inside the lock, runs it and records the run in the same
transaction, so a process that dies mid-job leaves no half-run and the next process takes over.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from collector.db import utcnow
from collector.jobs.models import JobRun

log = logging.getLogger("xunjian.jobs")

JobFn = Callable[..., Any]


@dataclass
class Job:
    name: str
    every: timedelta
    fn: JobFn  # fn(db=Session, now=datetime)


def job_lock_key(name: str) -> int:
    """The PostgreSQL advisory lock key of a job's claim."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


class JobRunner:
    def __init__(self, factory: sessionmaker[Session], jobs: list[Job], tick: float = 5.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.factory = factory
        self.jobs = jobs
        self.tick = tick
        self.clock = clock  # the app's clock (app.state.clock), so tests can move the jobs' "now"
        self.me = f"{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="xunjian-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            self.run_due()

    def run_due(self, now: datetime | None = None) -> list[str]:
        ran = []
        for job in self.jobs:
            try:
                if self.run_one(job, now or self.clock()):
                    ran.append(job.name)
            except Exception:  # one failing job must not stop the others
                log.exception("job %s failed", job.name)
        return ran

    def run_one(self, job: Job, now: datetime) -> bool:
        """Claim the period in a short transaction, then run the job in its own session.

        The claim (lock + check + mark last_run_at) is atomic, so one process runs each period; the
        job's work is committed separately so a long job (sending mail) never holds the SQLite write
        lock. A process that dies mid-job leaves the period claimed; the next period runs elsewhere."""
        with self.factory() as db:
            with db.begin():
                if db.get_bind().dialect.name == "postgresql":
                    got = db.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                     {"k": job_lock_key(job.name)}).scalar()
                    if not got:
                        return False
                run = db.get(JobRun, job.name)
                if run is not None and run.last_run_at is not None and now - run.last_run_at < job.every:
                    return False
                if run is None:
                    run = JobRun(name=job.name, last_error="", runner=self.me)
                    db.add(run)
                run.last_run_at = now
                run.runner = self.me
        error = ""
        try:
            with self.factory() as db:
                job.fn(db=db, now=now)
                db.commit()
        except Exception as e:
            error = f"{type(e).__name__}: {e}"[:2000]
            raise
        finally:
            with self.factory() as db, db.begin():
                run = db.get(JobRun, job.name)
                if run is not None:
                    run.last_error = error
                    if error:
                        run.failures = (run.failures or 0) + 1
                    else:
                        run.last_ok_at = now
        return True
