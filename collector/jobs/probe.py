"""A test-only periodic job that records each run, to prove "once per period across processes".

Enabled by the environment: `XUNJIAN_JOB_PROBE=SECONDS` registers a job "probe" with that period; each
run inserts (at, runner) into the table `job_probe` (created on first use). While the file named by
`XUNJIAN_JOB_PROBE_HOLD` exists, a run then holds the job's advisory lock (PostgreSQL) and sleeps, so a
test can kill -9 the process that holds it and watch another process take over.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from collector.jobs.runner import Job, job_lock_key

_TABLE = ("CREATE TABLE IF NOT EXISTS job_probe (at VARCHAR(40) NOT NULL, runner VARCHAR(128) NOT NULL, "
          "held INTEGER NOT NULL)")


def probe_job(factory: sessionmaker[Session], runner: str) -> Optional[Job]:
    every = os.environ.get("XUNJIAN_JOB_PROBE")
    if not every:
        return None
    hold = os.environ.get("XUNJIAN_JOB_PROBE_HOLD")

    def run(db: Session, now: datetime) -> None:
        holding = bool(hold) and Path(hold).exists()
        with factory() as log, log.begin():  # visible at once, whatever the job does next
            log.execute(text(_TABLE))
            log.execute(text("INSERT INTO job_probe (at, runner, held) VALUES (:at, :r, :h)"),
                        {"at": now.isoformat(), "r": runner, "h": int(holding)})
        if holding:
            if db.get_bind().dialect.name == "postgresql":
                db.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": job_lock_key("probe")})
            while hold and Path(hold).exists():
                time.sleep(0.2)

    return Job("probe", timedelta(seconds=float(every)), run)
