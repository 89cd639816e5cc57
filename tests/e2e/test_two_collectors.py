"""Two real collector processes on one PostgreSQL receive the same fault at the same moment, over and
over: the database keeps exactly one active ticket per fault and every ticket number is unique."""
from __future__ import annotations

import json
import signal
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from checks.model import uuid7
from tests.conftest import bin_path, free_port, run_cli, wait_http

pytestmark = pytest.mark.postgres

HOST, CHECK = "pg-host", "voucher-log"
ROUNDS = 20


def call(url: str, key: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read().decode(errors="replace")


def result(status: str, at: datetime) -> dict[str, Any]:
    return {"id": str(uuid7(at)), "host": HOST, "check": CHECK, "type": "log", "system": "voucher",
            "status": status, "summary": "发现 1 条严重错误" if status != "OK" else "无新错误",
            "started_at": at.isoformat(), "duration": 0.01,
            "metrics": [{"name": "critical_events", "value": 1 if status != "OK" else 0, "unit": ""}]}


class Fleet:
    """Two `xunjian-collector serve` processes on one database schema."""

    def __init__(self, db_url: str, workdir: Path) -> None:
        env = {"XUNJIAN_DB_URL": db_url}
        cli = bin_path("xunjian-collector")
        self.token = run_cli(cli, "agent", "enroll", HOST, "--unit", "某市财政局", env=env).strip().splitlines()[-1]
        self.key = run_cli(cli, "user", "add", "pg-admin", "--role", "admin", env=env).strip().splitlines()[-1]
        self.urls: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = []
        for i in range(2):
            port = free_port()
            log = open(workdir / f"collector{i}.log", "wb")
            self.logs.append(log)
            self.procs.append(subprocess.Popen([cli, "serve", "--db", db_url, "--port", str(port)], stdout=log,
                                               stderr=subprocess.STDOUT))
            self.urls.append(f"http://127.0.0.1:{port}")
        for url in self.urls:
            wait_http(url + "/healthz")

    def post(self, i: int, *results: dict[str, Any]) -> tuple[int, Any]:
        body = {"agent": {"host": HOST, "version": "e2e"}, "results": list(results)}
        return call(self.urls[i] + "/api/v1/results", self.token, body)

    def tickets(self, status: str = "") -> list[dict[str, Any]]:
        q = f"&status={status}" if status else ""
        code, body = call(self.urls[0] + f"/api/v1/tickets?host={HOST}&limit=1000{q}", self.key)
        assert code == 200, body
        return body["items"]

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            p.wait(timeout=20)
        for log in self.logs:
            log.close()


@pytest.fixture
def fleet(pg_url: str, tmp_path: Path) -> Iterator[Fleet]:
    f = Fleet(pg_url, tmp_path)
    yield f
    f.stop()


def active(tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tickets if t["status"] in ("open", "acknowledged", "pending")]


def test_same_fault_at_both_collectors_opens_one_ticket(fleet: Fleet) -> None:
    base = datetime.now(timezone.utc) - timedelta(hours=2)
    replies: list[tuple[int, Any]] = []
    for rnd in range(ROUNDS):
        at = base + timedelta(minutes=5 * rnd)
        barrier = threading.Barrier(2)

        def fire(i: int, at: datetime = at, barrier: threading.Barrier = barrier) -> None:
            fault = result("CRITICAL", at)  # the same fault, each its own result id
            barrier.wait()
            replies.append(fleet.post(i, fault))

        threads = [threading.Thread(target=fire, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [code for code, _ in replies[-2:]] == [200, 200], replies[-2:]
        open_now = active(fleet.tickets())
        assert len(open_now) == 1, f"round {rnd}: {[(t['number'], t['status']) for t in open_now]}"
        # recovery: three OK results in a row, alternating between the two processes
        for k in range(3):
            code, body = fleet.post(k % 2, result("OK", at + timedelta(seconds=10 * (k + 1))))
            assert code == 200, body
        assert active(fleet.tickets()) == [], f"round {rnd}: not resolved"

    all_ = fleet.tickets()
    numbers = [t["number"] for t in all_]
    assert len(all_) == ROUNDS and len(set(numbers)) == ROUNDS
    assert all(t["status"] == "resolved" and t["check"] == CHECK for t in all_)
    # each fault's ticket links to the one before it
    by_id = sorted(all_, key=lambda t: t["id"])
    assert [t["previous_ticket_id"] for t in by_id] == [None] + [t["id"] for t in by_id[:-1]]
    assert sum(body["accepted"] for _, body in replies) == 2 * ROUNDS
