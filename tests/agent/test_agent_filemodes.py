"""Spool, state, lock, rejected and token files private whatever the umask: a real agent started
with umask 000 outside systemd."""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from tests.agent.agentproc import AgentProc, disk_check, write_config
from tests.agent.standin import TOKEN, Standin


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_are_private_under_umask_000(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "checks").mkdir(parents=True)
    os.chmod(state, 0o777)
    old_state = state / "checks" / "gone.json"  # left by an older agent under umask 022
    old_state.write_text("{}\n")
    os.chmod(old_state, 0o644)
    token = tmp_path / "agent.token"
    token.write_text(TOKEN + "\n")
    os.chmod(token, 0o644)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_text("2026-11-25 10:00:00 ERROR boom\n")
    made = tmp_path / "plugin-made"
    checks = [disk_check("d1", interval="1s"),
              {"name": "app-log", "type": "log", "interval": "1s", "paths": [str(logs / "*.log")], "from": "start",
               "patterns": {"critical": ["ERROR"]}},
              {"name": "plugin", "type": "command", "interval": "1s", "shell": True,
               "command": f"touch {made}; echo OK"}]
    collector = Standin().start()
    collector.reject_checks.add("plugin")  # its results go to rejected.jsonl
    cfg = write_config(tmp_path / "agent.yaml", collector.url, state, checks)
    text = cfg.read_text().replace("token: test-token", f"token_file: {token}")
    cfg.write_text(text)
    agent = AgentProc(cfg, tmp_path / "agent.log").start(umask=0)
    try:
        deadline = time.monotonic() + 30
        want = [state / "spool.db", state / "spool.db-wal", state / "spool.db-shm", state / "agent.lock",
                state / "checks" / "app-log.json", state / "rejected.jsonl", made]
        while time.monotonic() < deadline and not all(p.exists() for p in want):
            time.sleep(0.2)
        missing = [str(p) for p in want if not p.exists()]
        assert not missing, f"{missing}\n{agent.log()}"
        for path in want[:-1]:
            assert mode(path) == 0o600, f"{path}: {oct(mode(path))}"
        assert mode(state) == 0o750 and mode(state / "checks") == 0o750  # 0777, 0755 left by others
        assert mode(old_state) == 0o640  # others lose read; a group given read keeps it
        assert mode(token) == 0o640
        assert mode(made) == 0o666  # the plugin keeps the umask the agent was started with (000)
        assert agent.terminate() == 0
    finally:
        if agent.alive():
            agent.kill9()
        collector.stop()
