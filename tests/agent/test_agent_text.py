"""A plugin printing a NUL and a log with binary bytes, through a real agent to a collector:
what arrives carries U+FFFD, never a NUL, and the rest of the host's results flow."""
from __future__ import annotations

import json
from pathlib import Path

from tests.agent.agentproc import AgentProc, disk_check, write_config
from tests.agent.standin import Standin

NUL_PLUGIN = {"name": "build", "type": "command", "interval": "1s", "shell": True,
              "command": r"printf 'OK - build\000id 7'"}


def test_nul_never_leaves_a_running_agent(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_bytes(b"2026-11-25 10:00:00 ERROR voucher \x00\x00 sent\n")
    log_check = {"name": "app-log", "type": "log", "interval": "1s", "from": "start",
                 "paths": [str(logs / "*.log")], "patterns": {"critical": ["ERROR"]}}
    collector = Standin().start()
    cfg = write_config(tmp_path / "agent.yaml", collector.url, tmp_path / "state",
                       [NUL_PLUGIN, log_check, disk_check("d1", interval="1s")])
    agent = AgentProc(cfg, tmp_path / "agent.log").start()
    try:
        def arrived() -> bool:
            checks = {r["check"] for r in list(collector.results.values())}
            return {"build", "app-log", "d1"} <= checks
        assert collector.wait_for(arrived, 30), agent.log()
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
        collector.stop()
    got = list(collector.results.values())
    assert "\x00" not in json.dumps(got, ensure_ascii=False) and "\\u0000" not in json.dumps(got)
    build = next(r for r in got if r["check"] == "build")
    assert build["summary"] == "OK - build\ufffdid 7"
    sample = next(r for r in got if r["check"] == "app-log" and r["status"] == "CRITICAL")
    assert "voucher \ufffd\ufffd sent" in sample["details"]["samples"][0]["line"]
