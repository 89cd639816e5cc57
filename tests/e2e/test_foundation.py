"""One inspection result travels from a client server to a ticket: real collector and agent processes."""
from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import bin_path, free_port, run_cli, wait_http


class Collector:
    def __init__(self, db_url: str, workdir: Path) -> None:
        self.db_url = db_url
        env = {"XUNJIAN_DB_URL": db_url}
        self.token = run_cli(bin_path("xunjian-collector"), "agent", "enroll", "e2e-host", "--unit", "测试单位",
                             "--room", "301", env=env).strip().splitlines()[-1]
        self.key = run_cli(bin_path("xunjian-collector"), "user", "add", "e2e-admin", "--role", "admin",
                           env=env).strip().splitlines()[-1]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "collector.log", "wb")
        self.proc = subprocess.Popen([bin_path("xunjian-collector"), "serve", "--db", db_url, "--port", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(self.url + "/healthz")

    def get(self, path: str) -> Any:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.key}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        self.log.close()


@pytest.fixture
def collector(db_url: str, tmp_path: Path) -> Iterator[Collector]:
    c = Collector(db_url, tmp_path)
    yield c
    c.stop()


def wait_for(fn, timeout: float = 40.0, step: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout}s")


def test_error_lines_open_a_ticket_and_quiet_resolves_it(collector: Collector, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    app_log = logs / "voucher.log"
    app_log.write_bytes(b"")
    config = tmp_path / "agent.yaml"
    config.write_text(f"""
collector: {{url: "{collector.url}", token: "{collector.token}"}}
host: {{name: e2e-host, labels: {{unit: 测试单位, room: "301"}}}}
state_dir: {tmp_path / 'state'}
checks:
  - {{name: voucher-log, type: log, system: voucher, interval: 1s, paths: ["{logs}/*.log"], encoding: gbk,
     from: end, patterns: {{critical: ["ERROR", "凭证发送失败"], warning: ["WARN"]}}}}
  - {{name: root-disk, type: disk, system: os, interval: 5s, mounts: ["/"]}}
""", encoding="utf-8")
    agent_log = open(tmp_path / "agent.log", "wb")
    agent = subprocess.Popen([bin_path("xunjian-agent"), "run", "--config", str(config)], stdout=agent_log,
                             stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: collector.get("/api/v1/results?host=e2e-host&check=voucher-log")["items"])
        with open(app_log, "ab") as f:
            for i in range(3):
                f.write(f"2026-11-25 10:00:0{i} ERROR 凭证发送失败 id={i}\n".encode("gbk"))
            f.write("2026-11-25 10:00:09 INFO 凭证发送成功\n".encode("gbk"))
        opened = wait_for(lambda: [t for t in collector.get("/api/v1/tickets")["items"]
                                   if t["check"] == "voucher-log"])
        assert len(opened) == 1
        # the ticket stays open until the log has been quiet for recover_after (3) runs
        t = opened[0]
        assert (t["host"], t["system"], t["severity"]) == ("e2e-host", "voucher", "critical")
        assert t["customer_unit"] == "测试单位" and t["number"].startswith("FW-")
        resolved = wait_for(lambda: [x for x in collector.get("/api/v1/tickets?status=resolved")["items"]
                                     if x["id"] == t["id"]])
        assert "恢复正常" in resolved[0]["resolution"]
        items = collector.get("/api/v1/results?host=e2e-host&check=voucher-log&limit=1000")["items"]
        events = sum(m["value"] for r in items for m in r["metrics"] if m["name"] == "critical_events")
        assert events == 3
        assert collector.get("/api/v1/tickets?status=open")["items"] == []
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=20)
        agent_log.close()


def test_metrics_parse_as_prometheus_text(collector: Collector) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(collector.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"xunjian_ingest_results", "xunjian_tickets_open", "xunjian_ingest_request_duration_seconds"} <= names
