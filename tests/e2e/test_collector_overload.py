"""Back-pressure: an overloaded collector answers 503 with Retry-After, clients (and the real agent) come
back later, and every result is stored exactly once."""
from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.collector.factories import batch, result
from tests.conftest import bin_path, free_port, run_cli, wait_http

pytestmark = pytest.mark.slow
POSTERS, BATCHES, SIZE = 16, 6, 50


def post(url: str, token: str, body: bytes) -> tuple[int, str | None, bytes]:
    req = urllib.request.Request(url + "/api/v1/results", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, None, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Retry-After"), e.read()


def test_overload_answers_503_and_nothing_is_lost(db_url: str, tmp_path: Path) -> None:
    env = {"XUNJIAN_DB_URL": db_url}
    cli = bin_path("xunjian-collector")
    tokens = {f"flood{i:02d}": run_cli(cli, "agent", "enroll", f"flood{i:02d}", env=env).strip().splitlines()[-1]
              for i in range(POSTERS)}
    agent_token = run_cli(cli, "agent", "enroll", "agent01", env=env).strip().splitlines()[-1]
    config = tmp_path / "collector.yaml"
    config.write_text("ingest: {concurrency: 1, queue_wait_ms: 0, retry_after_seconds: 1}\n", encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "collector.log", "wb")
    proc = subprocess.Popen([cli, "serve", "--db", db_url, "--port", str(port), "--config", str(config),
                             "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    agent = None
    try:
        wait_http(url + "/healthz")
        (tmp_path / "logs").mkdir()
        agent_cfg = tmp_path / "agent.yaml"
        agent_cfg.write_text(f"""
collector: {{url: "{url}", token: "{agent_token}"}}
host: {{name: agent01}}
state_dir: {tmp_path / 'state'}
checks:
  - {{name: root-disk, type: disk, system: os, interval: 1s, mounts: ["/"]}}
""", encoding="utf-8")
        agent_log_path = tmp_path / "agent.log"
        agent_log = open(agent_log_path, "wb")
        agent = subprocess.Popen([bin_path("xunjian-agent"), "run", "--config", str(agent_cfg)], stdout=agent_log,
                                 stderr=subprocess.STDOUT)
        statuses: list[int] = []
        retry_after: set[str | None] = set()
        sent_ids: list[str] = []
        lock = threading.Lock()

        stop = threading.Event()

        def poster(host: str) -> None:
            sent = 0
            while sent < BATCHES or not stop.is_set():
                sent += 1
                body = batch(*[result(host=host, check=f"c{j}") for j in range(SIZE)], host=host)
                with lock:
                    sent_ids.extend(r["id"] for r in body["results"])
                data = json.dumps(body).encode()
                while True:
                    status, ra, _ = post(url, tokens[host], data)
                    with lock:
                        statuses.append(status)
                    if status != 503:
                        assert status == 200
                        break
                    retry_after.add(ra)
                    time.sleep(float(ra or 1) / 4)  # a quarter of Retry-After: keep the pressure up

        engine = sa.create_engine(db_url)
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as c:
                if c.execute(sa.text("SELECT count(*) FROM hosts WHERE name = 'agent01' AND "
                                     "last_seen_at IS NOT NULL")).scalar_one():
                    break
            assert time.monotonic() < deadline, "the agent never reported"
            time.sleep(0.5)
        engine.dispose()
        threads = [threading.Thread(target=poster, args=(h,)) for h in tokens]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 90
        while "http 503" not in agent_log_path.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.5)  # flood until the agent too has been told to come back later
        stop.set()
        for t in threads:
            t.join(timeout=240)
        assert statuses.count(503) > 0, "the collector never pushed back"
        assert retry_after == {"1"}
        time.sleep(3)  # let the agent deliver what it spooled while refused
    finally:
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)
            agent_log.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    engine = sa.create_engine(db_url)
    with engine.connect() as c:
        total, distinct = c.execute(sa.text("SELECT count(*), count(DISTINCT r.id) FROM results r JOIN hosts h "
                                            "ON h.id = r.host_id WHERE h.name LIKE 'flood%'")).one()
        agent_rows, agent_distinct = c.execute(sa.text(
            "SELECT count(*), count(DISTINCT r.id) FROM results r JOIN hosts h ON h.id = r.host_id "
            "WHERE h.name = 'agent01'")).one()
    engine.dispose()
    assert total == distinct == len(sent_ids) >= POSTERS * BATCHES * SIZE
    assert agent_rows >= 1 and agent_rows == agent_distinct
    agent_text = agent_log_path.read_text(encoding="utf-8", errors="replace")
    # refused during the flood (its sends meet a busy slot most of the time): it waited as told
    assert "collector busy (http 503); retrying in 1.0s" in agent_text, agent_text[-2000:]
