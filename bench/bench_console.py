"""Console pages at fleet size: p50/p95 render time through the real app (TestClient, no network).

Seeds HOSTS hosts x 8 checks (about 3 % of hosts with a check not OK, 1 % offline) in 40 customer units,
OPEN active tickets, and a week of 1-minute disk results for one host, then times GETs of:
  the dashboard, the host list (first page, a filtered page, a search), the ticket list (active), a host page,
and the JSON host and ticket lists as peers.

    .venv/bin/python bench/bench_console.py                       # 10 000 hosts, 500 tickets, SQLite
    .venv/bin/python bench/bench_console.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/bench_console.py --hosts 300 --open 200 --samples 20
"""
from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from collector.hosts.models import Host
from collector.results.models import CheckState, ResultRow
from collector.tickets.models import Ticket
from collector.users import service as users

CHECKS = [("root-disk", "disk", "os"), ("data-disk", "disk", "os"), ("sys", "system", "os"),
          ("voucher-log", "log", "voucher"), ("voucher-proc", "process", "voucher"), ("seal-http", "http", "seal"),
          ("mq-queues", "mq", "mq"), ("mq-tcp", "tcp", "mq")]
UNITS = 40


def seed(app: Any, n_hosts: int, n_open: int) -> None:
    now = datetime.now(timezone.utc)
    with app.state.sessionmaker() as db:
        users.add(db=db, name="bench", role="engineer", password="bench-pass-1")
        db.execute(sa.insert(Host), [
            {"name": f"host{i:05d}", "unit": f"某市财政局{i % UNITS:02d}", "room": str(100 + i % 50),
             "labels": {}, "enrolled_at": now, "last_seen_at": now, "agent_version": "1.0",
             "heartbeat_seconds": 30.0, "online": i % 100 != 7, "dropped_total": 0, "rejected_total": 0}
            for i in range(n_hosts)])
        ids = list(db.scalars(sa.select(Host.id).order_by(Host.id)))
        states = []
        for hid in ids:
            for n, (check, typ, system) in enumerate(CHECKS):
                metrics = [{"name": "used_percent:/", "value": 40.0 + (hid + n) % 55, "unit": "%", "warn": "80",
                            "crit": "90"}] if typ == "disk" else [{"name": "value", "value": 1, "unit": ""}]
                status = 2 if (hid % 33 == 0 and n == 3) else 1 if (hid % 97 == 0 and n == 0) else 0
                states.append({"host_id": hid, "check": check, "type": typ, "system": system, "status": status,
                               "summary": "ok", "metrics": metrics, "last_result_id": uuid.uuid4(),
                               "last_started_at": now, "consecutive_bad": 0, "consecutive_ok": 1,
                               "status_changes": 0, "since": now})
        for i in range(0, len(states), 5000):
            db.execute(sa.insert(CheckState), states[i:i + 5000])
        db.execute(sa.insert(Ticket), [
            {"number": f"FW-BENCH-{t:04d}", "source": "check", "channel": "auto",
             "status": ("open", "acknowledged", "pending")[t % 3], "severity": "warning", "system": "os",
             "host": f"host{t % n_hosts:05d}", "title": f"告警 {t}: 电子凭证库发送凭证失败", "description": "x",
             "reported_at": now - timedelta(minutes=7 * t), "opened_at": now - timedelta(minutes=7 * t),
             "last_occurrence_at": now - timedelta(minutes=7 * t),
             "response_due_at": now - timedelta(minutes=7 * t) + timedelta(hours=4),
             "customer_unit": f"某市财政局{t % UNITS:02d}", "pauses": [], "labels": {}} for t in range(n_open)])
        rows = [{"started_at": now - timedelta(minutes=m), "id": uuid.uuid4(), "host_id": ids[0], "check": "root-disk",
                 "type": "disk", "system": "os", "status": 0, "summary": "", "duration": 0.01,
                 "metrics": [{"name": "used_percent:/", "value": 50 + m % 30, "unit": "%"}], "details": {},
                 "received_at": now} for m in range(7 * 1440)]
        db.execute(ResultRow.__table__.insert(), rows)
        db.commit()


def timed(client: TestClient, path: str, n: int, **kw: Any) -> tuple[float, float]:
    for _ in range(2):  # warm: templates compiled, caches filled
        assert client.get(path, **kw).status_code == 200, path
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path, **kw)
        samples.append(time.perf_counter() - t0)
        assert r.status_code == 200, (path, r.status_code)
    samples.sort()
    return statistics.median(samples) * 1000, samples[max(0, round(0.95 * n) - 1)] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--open", type=int, default=500)
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--db", default="", help="a database URL (an empty database); default a new SQLite file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        schema = ""
        if db_url.startswith("postgresql"):
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with sa.create_engine(db_url).begin() as c:
                c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            db_url = f"{db_url}?options=-csearch_path%3D{schema}"
        app = create_app(Settings(db_url=db_url, jobs_enabled=False))
        try:
            with TestClient(app) as c:
                t0 = time.perf_counter()
                seed(app, args.hosts, args.open)
                if schema:
                    with app.state.engine.begin() as conn:
                        conn.execute(sa.text("ANALYZE"))
                seeded = time.perf_counter() - t0
                with app.state.sessionmaker() as db:
                    _, key = users.add(db=db, name="api", role="viewer")
                    db.commit()
                page = c.get("/console/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
                c.post("/console/login", data={"csrf": csrf, "username": "bench", "password": "bench-pass-1"})
                api = {"headers": {"Authorization": f"Bearer {key}"}}
                paths = [("dashboard", "/console/", {}),
                         ("host list, first page", "/console/hosts", {}),
                         ("host list, filtered", "/console/hosts?unit=某市财政局07&system=voucher&status=problem", {}),
                         ("host list, filtered, page 3", "/console/hosts?system=os&status=ok&page=3", {}),
                         ("host list, search", "/console/hosts?q=host0421", {}),
                         ("host list, last page", "/console/hosts?page=200", {}),
                         ("ticket list, active", "/console/tickets?status=active", {}),
                         ("host page, 7 days", "/console/hosts/host00000?days=7", {}),
                         ("API hosts", "/api/v1/hosts", api), ("API tickets", "/api/v1/tickets?limit=20", api)]
                engine = "PostgreSQL" if schema else "SQLite"
                print(f"{engine}: {args.hosts} hosts x {len(CHECKS)} checks, {args.open} active tickets, "
                      f"seeded in {seeded:.0f} s; {args.samples} samples each")
                print("| page | path | p50 ms | p95 ms |")
                print("|---|---|---|---|")
                for label, path, kw in paths:
                    p50, p95 = timed(c, path, args.samples, **kw)
                    print(f"| {label} | `{path}` | {p50:.1f} | {p95:.1f} |")
        finally:
            if schema:
                base = args.db
                with sa.create_engine(base).begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
