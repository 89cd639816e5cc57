"""Results the collector refused for good: kept in state_dir/rejected.jsonl (bounded), never retried."""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from agent.logsetup import get_logger

log = get_logger("agent.rejected")


class RejectedLog:
    def __init__(self, path: Path, max_bytes: int = 1024 * 1024) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def write(self, body: str, error: str, status: int) -> None:
        try:
            result: Any = json.loads(body)
        except ValueError:
            result = body
        line = json.dumps({"time": time.time(), "status": status, "error": error[:1000], "result": result},
                          ensure_ascii=False) + "\n"
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    if self.path.stat().st_size + len(line) > self.max_bytes:
                        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                except FileNotFoundError:
                    pass
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line)
            except OSError as e:
                log.warning("cannot write %s: %s", self.path, e)
