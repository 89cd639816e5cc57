"""The poller reports to a real collector like an agent per server: results arrive under each target's
host, a log error found over SSH opens a ticket, an unreachable target reports UNKNOWN."""
from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import yaml

from tests.agent.agentless_env import known_hosts, poller_doc
from tests.conftest import bin_path, free_port, run_cli, wait_http
from tests.helpers import sshd as sshd_helpers
from tests.helpers.net import closed_port

client_key, sshd, sshd_factory = sshd_helpers.client_key, sshd_helpers.sshd, sshd_helpers.sshd_factory  # fixtures


def wait_for(fn: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"condition not met within {timeout}s")


def test_poller_results_reach_the_collector_and_open_a_ticket(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    db = f"sqlite:///{tmp_path / 'collector.db'}"
    env = {"XUNJIAN_DB_URL": db}
    collector = bin_path("xunjian-collector")
    tokens = {h: run_cli(collector, "agent", "enroll", h, "--unit", "测试单位", env=env).strip().splitlines()[-1]
              for h in ("remote01", "remote02")}
    key = run_cli(collector, "user", "add", "admin", "--role", "admin", env=env).strip().splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clog = open(tmp_path / "collector.log", "wb")
    cproc = subprocess.Popen([collector, "serve", "--db", db, "--port", str(port)], stdout=clog,
                             stderr=subprocess.STDOUT)

    def get(path: str) -> Any:
        req = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "voucher.log"
    app.write_bytes(b"")
    token_file = tmp_path / "remote01.token"
    token_file.write_text(tokens["remote01"] + "\n")
    # each SSH command costs a login shell on the target (here ~0.4 s: root's .bashrc runs pyenv init),
    # so the checks get a timeout above their short interval
    checks = [{"name": "voucher-log", "type": "log", "system": "voucher", "interval": "2s", "timeout": "20s",
               "paths": [f"{logs}/*.log"], "encoding": "gbk",
               "patterns": {"critical": ["ERROR", "凭证发送失败"], "warning": ["WARN"]}},
              {"name": "root-disk", "type": "disk", "interval": "5s", "timeout": "20s", "mounts": ["/"]}]
    doc = poller_doc(tmp_path, [
        {"name": "remote01", "address": "127.0.0.1", "port": sshd.port, "token_file": str(token_file),
         "labels": {"unit": "测试单位", "room": "301"}, "checks": checks},
        {"name": "remote02", "address": "127.0.0.1", "port": closed_port(), "token": tokens["remote02"],
         "checks": [{"name": "root-disk", "type": "disk", "interval": "2s", "mounts": ["/"]}]},
    ], key=client_key, known=known_hosts(tmp_path, sshd), url=url, send={"flush_interval": "0.2s"})
    del doc["targets"][0]["token"]  # remote01 reads its token_file
    config = tmp_path / "poller.yaml"
    config.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    plog = open(tmp_path / "poller.log", "wb")
    poller = None
    try:
        wait_http(url + "/healthz")
        poller = subprocess.Popen([bin_path("xunjian-agent"), "poll", "--config", str(config)], stdout=plog,
                                  stderr=subprocess.STDOUT)
        wait_for(lambda: get("/api/v1/results?host=remote01&check=voucher-log")["items"])
        with app.open("ab") as f:
            for i in range(3):
                f.write(f"2026-11-25 10:00:0{i} ERROR 凭证发送失败 id={i}\n".encode("gbk"))
        tickets = wait_for(lambda: [t for t in get("/api/v1/tickets")["items"] if t["check"] == "voucher-log"])
        t = tickets[0]
        odd = [(r["status"], r["summary"]) for r in get("/api/v1/results?host=remote01&check=voucher-log&limit=1000")
               ["items"] if r["status"] not in ("OK", "CRITICAL")]
        assert not odd
        assert (t["host"], t["system"], t["severity"]) == ("remote01", "voucher", "critical")
        crit = wait_for(lambda: [r for r in get("/api/v1/results?host=remote01&check=voucher-log&limit=1000")["items"]
                                 if r["status"] == "CRITICAL"])
        assert "凭证发送失败" in json.dumps(crit[0]["details"], ensure_ascii=False) or crit[0]["summary"]
        down = wait_for(lambda: get("/api/v1/results?host=remote02&check=root-disk")["items"])
        assert down[0]["status"] == "UNKNOWN" and down[0]["summary"].startswith("SSH 无法连接")
        disk = wait_for(lambda: get("/api/v1/results?host=remote01&check=root-disk")["items"])
        assert disk[0]["status"] in ("OK", "WARNING", "CRITICAL")
        host = get("/api/v1/hosts/remote01")
        assert host["online"] and host["agent_version"] and host["last_seen_at"]
    finally:
        if poller is not None:
            poller.send_signal(signal.SIGTERM)
            poller.wait(timeout=30)
        plog.close()
        cproc.send_signal(signal.SIGTERM)
        cproc.wait(timeout=20)
        clog.close()
    assert poller.returncode == 0
