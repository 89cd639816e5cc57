"""Console page cost on a realistic fleet, against the JSON API reading the same data in the same run.

Seeds a SQLite database (HOSTS hosts x 8 checks, OPEN active tickets, a week of 1-minute disk results for
one host), then times server-side GETs through the ASGI app (TestClient, no network):
  /console/               vs /api/v1/hosts         (dashboard vs the host list API)
  /console/hosts/H?days=7 vs /api/v1/hosts/H       (host page with its SVG chart vs the host API)
  /console/tickets        vs /api/v1/tickets?limit=20

    .venv/bin/python bench/bench_console.py [HOSTS] [OPEN]
"""
from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from collector.hosts import service as hosts
from collector.results.models import CheckState, ResultRow
from collector.tickets.models import Ticket
from collector.users import service as users

HOSTS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
OPEN = int(sys.argv[2]) if len(sys.argv) > 2 else 200
CHECKS = [("root-disk", "disk", "os"), ("data-disk", "disk", "os"), ("sys", "system", "os"),
          ("voucher-log", "log", "voucher"), ("voucher-proc", "process", "voucher"), ("seal-http", "http", "seal"),
          ("mq-queues", "mq", "mq"), ("mq-tcp", "tcp", "mq")]


def seed(app) -> None:
    now = datetime.now(timezone.utc)
    with app.state.sessionmaker() as db:
        users.add(db=db, name="bench", role="engineer", password="bench-pass-1")
        ids = []
        for i in range(HOSTS):
            h, _ = hosts.enroll(db=db, name=f"host{i:04d}", unit=f"财政局{i % 25:02d}", room=str(100 + i % 50))
            h.last_seen_at = now
            ids.append(h.id)
        for hid in ids:
            for n, (check, typ, system) in enumerate(CHECKS):
                metrics = [{"name": "used_percent:/", "value": 40.0 + (hid + n) % 55, "unit": "%", "warn": "80",
                            "crit": "90"}] if typ == "disk" else [{"name": "value", "value": 1, "unit": ""}]
                db.add(CheckState(host_id=hid, check=check, type=typ, system=system, status=(hid + n) % 4 // 3 * 2,
                                  summary="ok", metrics=metrics, last_result_id=uuid.uuid4(), last_started_at=now,
                                  consecutive_bad=0, consecutive_ok=1, status_changes=0, since=now))
        for t in range(OPEN):
            at = now - timedelta(minutes=7 * t)
            db.add(Ticket(number=f"FW-BENCH-{t:04d}", source="check", channel="auto", status="open",
                          severity="warning", system="os", host=f"host{t % HOSTS:04d}", title=f"告警 {t}",
                          description="x", reported_at=at, opened_at=at, last_occurrence_at=at,
                          response_due_at=at + timedelta(hours=4), customer_unit=f"财政局{t % 25:02d}",
                          pauses=[], labels={}))
        rows = [{"started_at": now - timedelta(minutes=m), "id": uuid.uuid4(), "host_id": ids[0], "check": "root-disk",
                 "type": "disk", "system": "os", "status": 0, "summary": "", "duration": 0.01,
                 "metrics": [{"name": "used_percent:/", "value": 50 + m % 30, "unit": "%"}], "details": {},
                 "received_at": now} for m in range(7 * 1440)]
        db.execute(ResultRow.__table__.insert(), rows)
        db.commit()


def timed(client: TestClient, path: str, n: int, **kw) -> float:
    client.get(path, **kw)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, **kw)
        samples.append(time.perf_counter() - t0)
        assert r.status_code == 200, (path, r.status_code)
    return statistics.median(samples) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(db_url=f"sqlite:///{Path(tmp) / 'bench.db'}", jobs_enabled=False))
        with TestClient(app) as c:
            seed(app)
            with app.state.sessionmaker() as db:
                _, key = users.add(db=db, name="api", role="viewer")
                db.commit()
            page = c.get("/console/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            c.post("/console/login", data={"csrf": csrf, "username": "bench", "password": "bench-pass-1"})
            api = {"headers": {"Authorization": f"Bearer {key}"}}
            pairs = [("/console/", "/api/v1/hosts"), ("/console/hosts/host0000?days=7", "/api/v1/hosts/host0000"),
                     ("/console/tickets", "/api/v1/tickets?limit=20")]
            print(f"{HOSTS} hosts x {len(CHECKS)} checks, {OPEN} open tickets, 10080 disk results on host0000")
            print("| page | ms (median of 20) | API peer | ms | ratio |")
            print("|---|---|---|---|---|")
            for console, peer in pairs:
                a, b = timed(c, console, 20), timed(c, peer, 20, **api)
                print(f"| `{console}` | {a:.1f} | `{peer}` | {b:.1f} | {a / b:.2f}x |")


if __name__ == "__main__":
    main()
