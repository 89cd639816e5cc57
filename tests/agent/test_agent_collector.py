"""A real agent process against a real collector process on PostgreSQL: a result the collector
refuses is quarantined while the healthy ones keep arriving, and after an outage sending resumes
within seconds of the collector's return."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.agent.agentproc import AgentProc, disk_check, write_config
from tests.conftest import bin_path, free_port, run_cli, wait_http

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# A plugin that talks too much: its long output, stderr and bad perfdata make details the collector
# refuses ("details larger than 16384 bytes"), a 422 for the batch it is in.
CHATTY = r"""#!/bin/sh
x=$(head -c 600 /dev/zero | tr '\0' 'x')
printf 'OK - fine |'
for i in $(seq 20); do printf " bad%s$x" "$i"; done
printf '\n'
for i in $(seq 10); do echo "$x"; echo "$x" >&2; done
"""


class Collector:
    def __init__(self, db: str, tmp: Path) -> None:
        self.db, self.tmp = db, tmp
        self.env = {"XUNJIAN_DB_URL": db}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        cli = bin_path("xunjian-collector")
        self.key = run_cli(cli, "user", "add", "admin", "--role", "admin", env=self.env).strip().splitlines()[-1]
        self.token = run_cli(cli, "agent", "enroll", "web01", env=self.env).strip().splitlines()[-1]

    def start(self) -> float:
        """Starts serving; returns the monotonic time its /healthz first answered."""
        with open(self.tmp / "collector.log", "ab") as log:
            self.proc = subprocess.Popen([bin_path("xunjian-collector"), "serve", "--db", self.db, "--port",
                                          str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                                         env={**os.environ, **self.env})
        wait_http(self.url + "/healthz", timeout=60)
        return time.monotonic()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def get(self, path: str) -> Any:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.key}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def results(self, check: str) -> int:
        return len(self.get(f"/api/v1/results?host=web01&check={check}&limit=1000")["items"])


@pytest.fixture
def collector(pg_url: str, tmp_path: Path) -> Iterator[Collector]:
    c = Collector(pg_url, tmp_path)
    c.start()
    yield c
    c.stop()


def wait_for(fn: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def _agent(tmp_path: Path, collector: Collector, checks: list[dict[str, Any]], **extra: Any) -> AgentProc:
    config = write_config(tmp_path / "agent.yaml", collector.url, tmp_path / "state", checks,
                          collector={"url": collector.url, "token": collector.token}, **extra)
    return AgentProc(config, tmp_path / "agent.log")


def test_a_refused_result_is_quarantined_and_healthy_results_keep_arriving(tmp_path: Path,
                                                                           collector: Collector) -> None:
    plugin = tmp_path / "chatty.sh"
    plugin.write_text(CHATTY, encoding="utf-8")
    plugin.chmod(0o755)
    chatty = {"name": "chatty", "type": "command", "system": "os", "interval": "1s", "command": str(plugin)}
    metrics = free_port()
    agent = _agent(tmp_path, collector, [chatty, disk_check("root-disk")], log={"level": "debug"},
                   metrics={"listen": f"127.0.0.1:{metrics}"}).start()
    rejected = tmp_path / "state" / "rejected.jsonl"
    try:
        assert wait_for(lambda: collector.results("root-disk") >= 10, 60), agent.log()
        assert wait_for(lambda: rejected.exists() and len(rejected.read_text(encoding="utf-8").splitlines()) >= 5, 30)
        assert wait_for(lambda: collector.get("/api/v1/hosts/web01")["rejected_total"] >= 5, 30)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as r:
            scraped = r.read().decode()
        counted = re.search(r"^xunjian_agent_results_rejected_total (\d+)$", scraped, re.M)
        assert counted and int(counted.group(1)) >= 5, scraped
    finally:
        assert agent.terminate() == 0
    kept = [json.loads(line) for line in rejected.read_text(encoding="utf-8").splitlines()]
    assert {k["result"]["check"] for k in kept} == {"chatty"}
    assert {k["status"] for k in kept} == {422} and all("details larger" in k["error"] for k in kept)
    assert collector.results("chatty") == 0
    # every healthy result the agent made reached the collector: none waits behind a refused one
    assert collector.results("root-disk") == len(re.findall(r"check root-disk: status", agent.log()))
    assert int((tmp_path / "state" / "rejected.total").read_text()) == len(kept)


def test_sending_resumes_within_30s_of_the_collectors_return(tmp_path: Path, collector: Collector) -> None:
    """The collector is down for 75 s, so the agent's backoff has grown to draws of up to a minute
    or two; once it serves again the ~75 results spooled meanwhile arrive within 30 s (the /healthz
    probe every 5 s; tests/agent/test_agent_sender.py pins the probe down with the longest draws)."""
    agent = _agent(tmp_path, collector, [disk_check("root-disk")],
                   send={"flush_interval": "0.2s", "timeout": "2s", "max_backoff": "300s"},
                   log={"level": "debug"}).start()
    try:
        assert wait_for(lambda: collector.results("root-disk") >= 3, 60), agent.log()
        collector.stop()
        n0 = len(re.findall(r"check root-disk: status", agent.log()))
        time.sleep(75)
        spooled = len(re.findall(r"check root-disk: status", agent.log())) - n0
        draws = [float(x) for x in re.findall(r"retrying in ([0-9.]+)s", agent.log())]
        back = collector.start()
        arrived = wait_for(lambda: collector.results("root-disk") >= n0 + spooled, 30)
        waited = time.monotonic() - back
        assert arrived and waited < 30, f"{waited:.0f}s after the return; backoff draws {draws}"
        assert spooled >= 50 and max(draws) > 8  # the outage was long enough for the backoff to grow
    finally:
        assert agent.terminate() == 0
