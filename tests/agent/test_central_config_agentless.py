"""`xunjian-agent poll` with `collector.central`: each target pulls its central checks with its own
token, runs them over SSH (the real loopback sshd), applies a new version between rounds without a
restart, refuses what central_allow forbids, and `--once` runs the kept version."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.agentless.config import parse_poller_config
from agent.central import CentralConfig, save
from tests.agent.agentless_env import known_hosts, poller_doc
from tests.agent.agentproc import ROOT, disk_check
from tests.agent.central_standin import CentralStandin
from tests.helpers import sshd as sshd_helpers

client_key, sshd, sshd_factory = sshd_helpers.client_key, sshd_helpers.sshd, sshd_helpers.sshd_factory  # fixtures

pytestmark = pytest.mark.slow


def _wait(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


def _results(central: CentralStandin, host: str, check: str) -> int:
    with central.lock:
        return sum(1 for r in central.results.values() if r["host"] == host and r["check"] == check)


def _config(tmp_path: Path, central: CentralStandin, sshd: Any, key: Path, **collector: Any) -> Path:
    doc = poller_doc(tmp_path, [{"name": "remote01", "address": "127.0.0.1", "port": sshd.port, "token": "tok-01",
                                 "checks": [disk_check("local-disk", interval="60s", timeout="20s")]}],
                     key=key, known=known_hosts(tmp_path, sshd), url=central.url, heartbeat="1s",
                     send={"flush_interval": "0.2s"})
    doc["collector"].update({"central": True, **collector})
    path = tmp_path / "poller.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _poll(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as f:
        return subprocess.Popen([sys.executable, "-m", "agent.cli", "poll", "--config", str(config), *args],
                                cwd=str(ROOT), env=env, stdout=f, stderr=f)


def test_poller_targets_pull_and_apply_central_checks(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    central = CentralStandin(token="tok-01").start()
    app_log = tmp_path / "app.log"
    app_log.write_text("ok\n", encoding="utf-8")
    # tcp cannot run agentless: left out on this target, not a reason to refuse the version
    central.set_doc("v1", [disk_check("tmpl-disk", interval="2s", timeout="20s"),
                           {"name": "tmpl-tcp", "type": "tcp", "host": "127.0.0.1", "port": 9}])
    log = tmp_path / "poller.log"
    proc = _poll(_config(tmp_path, central, sshd, client_key), log)
    try:
        assert _wait(lambda: "target remote01: central configuration v1 applied" in log.read_text())
        assert _wait(lambda: _results(central, "remote01", "tmpl-disk") >= 1)
        assert central.config_gets() and {g["token"] for g in central.config_gets()} == {"tok-01"}
        central.set_doc("v2", [disk_check("tmpl-disk", interval="2s", timeout="20s"),
                               {"name": "tmpl-log", "type": "log", "interval": "2s", "timeout": "20s",
                                "paths": [str(app_log)]}])
        assert _wait(lambda: "central configuration v2 applied: 1 checks started, 2 kept, 0 removed" in log.read_text())
        assert _wait(lambda: _results(central, "remote01", "tmpl-log") >= 1)
        assert _wait(lambda: (central.last_block("remote01") or {}).get("config_version") == "v2")
        central.set_doc("v3", [{"name": "evil", "type": "command", "command": ["/bin/true"]}])
        assert _wait(lambda: "target remote01: central configuration v3 refused" in log.read_text())
        assert _wait(lambda: ((central.last_block("remote01") or {}).get("config_refused") or {})
                     .get("version") == "v3")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(30)
        central.stop()
    assert "Traceback" not in log.read_text()


def test_poll_once_runs_the_kept_central_version(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    central = CentralStandin(token="tok-01").start()
    config = _config(tmp_path, central, sshd, client_key)
    central.stop()  # the collector is away: the kept version runs
    target = parse_poller_config(yaml.safe_load(config.read_text())).targets[0]
    target.agent.state_dir.mkdir(parents=True)
    save(target.agent.state_dir, CentralConfig("v7", [disk_check("tmpl-disk", timeout="20s")],
                                               {"tmpl-disk": "os@v7"}))
    log = tmp_path / "once.log"
    proc = _poll(config, log, "--once")
    assert proc.wait(120) == 0, log.read_text()
    assert "target remote01: running central configuration v7 kept from the last run" in log.read_text()
    import sqlite3
    db = sqlite3.connect(str(target.agent.state_dir / "spool.db"))
    try:
        rows = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    finally:
        db.close()
    assert rows == 2  # local-disk and tmpl-disk, spooled for the collector's return
