"""Results the collector refused for good: kept in state_dir/rejected.jsonl (bounded), never retried,
and counted in all in rejected.total (kept across restarts, reported to the collector)."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class RejectedLog:
    def __init__(self, path: Path, max_bytes: int = 1024 * 1024) -> None:
        self.path = Path(path)
        self.total_path = self.path.with_name("rejected.total")
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.total = self._read_total()

    def write(self, body: str, error: str, status: int) -> None:
        """Keep one refused result (its spooled JSON body) with the collector's reason."""
        try:
            result: Any = json.loads(body)
        except ValueError:
            result = body
        line = json.dumps({"time": time.time(), "status": status, "error": error[:1000], "result": result},
                          ensure_ascii=False) + "\n"
        with self._lock:
            self.total += 1
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    if self.path.stat().st_size + len(line) > self.max_bytes:
                        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                except FileNotFoundError:
                    pass
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(line)
                tmp = self.total_path.with_name(self.total_path.name + ".tmp")
                tmp.write_text(f"{self.total}\n", encoding="ascii")
                os.replace(tmp, self.total_path)
            except OSError as e:
                log.warning("cannot write %s: %s", self.path, e)

    def _read_total(self) -> int:
        try:
            return max(0, int(self.total_path.read_text(encoding="ascii").strip()))
        except (OSError, ValueError):
            return 0
