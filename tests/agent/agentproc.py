"""Run the real agent as a subprocess (`python -m agent.cli run`) for the agent's tests."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import yaml

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, url: str, state_dir: Path, checks: list[dict[str, Any]], **extra: Any) -> Path:
    cfg: dict[str, Any] = {
        "collector": {"url": url, "token": "test-token"},
        "host": {"name": "web01", "labels": {"unit": "某市财政局"}},
        "state_dir": str(state_dir),
        "send": {"flush_interval": "0.2s", "timeout": "2s", "max_backoff": "2s"},
        "heartbeat": "5s",
        "checks": checks,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def disk_check(name: str = "root-disk", interval: str = "1s", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "disk", "system": "os", "interval": interval, "mounts": ["/"], **extra}


class AgentProc:
    def __init__(self, config: Path, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self, umask: int = -1) -> AgentProc:
        """`umask`: the one the agent is started with (-1: this process's)."""
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "--config", str(self.config)],
                                         cwd=str(ROOT), env=env, stdout=log, stderr=log, umask=umask)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.1)
        return False


def spool_rows(state_dir: Path) -> int:
    db = sqlite3.connect(str(state_dir / "spool.db"))
    try:
        return db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    finally:
        db.close()


def assert_quiet_log(text: str) -> None:
    """The agent's own log must not look like an incident to a log check (ERROR / WARN)."""
    for word in ("ERROR", "WARN"):
        assert word not in text, f"{word!r} in the agent log:\n{text}"
