"""Two real collector processes on one PostgreSQL: periodic jobs run once per period across both, and
keep running when the process that holds a job's lock is killed with SIGKILL."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import bin_path, free_port, wait_http

PERIOD = 1.0
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def probe_rows(engine: sa.Engine) -> list[tuple[datetime, str, int]]:
    with engine.connect() as c:
        if not c.execute(sa.text("SELECT to_regclass('job_probe')")).scalar():
            return []
        rows = c.execute(sa.text("SELECT at, runner, held FROM job_probe")).all()
    return sorted((datetime.fromisoformat(at), runner, held) for at, runner, held in rows)


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[tuple[list[subprocess.Popen], Path, sa.Engine]]:
    config = tmp_path / "collector.yaml"
    config.write_text("job_interval_seconds: 30\n", encoding="utf-8")
    hold = tmp_path / "hold"
    env = {**os.environ, "XUNJIAN_JOB_PROBE": str(PERIOD), "XUNJIAN_JOB_PROBE_HOLD": str(hold),
           "XUNJIAN_CONFIG": str(config)}
    procs, logs = [], []
    for i in range(2):
        port = free_port()
        log = open(tmp_path / f"collector{i}.log", "wb")
        logs.append(log)
        procs.append(subprocess.Popen([bin_path("xunjian-collector"), "serve", "--db", pg_url, "--port", str(port),
                                       "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_http(f"http://127.0.0.1:{port}/healthz", 60)
    engine = sa.create_engine(pg_url)
    yield procs, hold, engine
    hold.unlink(missing_ok=True)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    for log in logs:
        log.close()
    engine.dispose()


def wait_rows(engine: sa.Engine, pred, timeout: float = 30.0) -> list[tuple[datetime, str, int]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = probe_rows(engine)
        if pred(rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"probe rows did not appear in {timeout}s: {probe_rows(engine)}")


def test_one_run_per_period_across_processes_and_takeover_after_kill(cluster) -> None:
    procs, hold, engine = cluster
    rows = wait_rows(engine, lambda r: len(r) >= 8)
    times = [at for at, _, _ in rows]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert min(gaps) >= PERIOD - 0.01, f"two runs inside one period: {gaps}"

    # The next run holds the job's lock and sleeps: kill -9 that process while it holds it.
    hold.touch()
    rows = wait_rows(engine, lambda r: any(held for _, _, held in r))
    held_at, holder, _ = next(r for r in rows if r[2])
    victim = next(p for p in procs if holder.endswith(f":{p.pid}"))
    time.sleep(2 * PERIOD)  # the other process cannot run the job meanwhile: the lock is held
    assert [r for r in probe_rows(engine) if r[0] > held_at] == []
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    killed = time.monotonic()
    hold.unlink()
    rows = wait_rows(engine, lambda r: any(at > held_at and runner != holder for at, runner, _ in r), timeout=15)
    took = time.monotonic() - killed
    assert took <= 2 * PERIOD + 1.5, f"takeover took {took:.1f}s"
    after = [runner for at, runner, _ in rows if at > held_at]
    assert after and holder not in after
