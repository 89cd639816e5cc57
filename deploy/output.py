"""What the rollout prints: one lock, secrets masked, a per-host result table at the end.

Every line the rollout prints goes through `RolloutOutput`, which replaces each registered secret (the admin
API key, agent tokens, SSH passwords) with `***` even if an error message happened to carry one.
"""
from __future__ import annotations

import sys
import threading
import unicodedata
from dataclasses import dataclass
from typing import TextIO

MASK = "***"


class Secrets:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 4:
            with self._lock:
                self._values.add(value)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for v in values:
            text = text.replace(v, MASK)
        return text


@dataclass
class HostReport:
    host: str
    action: str
    result: str      # 成功 / 失败 / 无变化 / 运行中 / 已停止 / 未安装
    version: str
    duration: float
    message: str

    @property
    def failed(self) -> bool:
        return self.result not in ("成功", "无变化", "运行中")


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


class RolloutOutput:
    def __init__(self, secrets: Secrets, out: TextIO | None = None, err: TextIO | None = None,
                 quiet: bool = False) -> None:
        self.secrets = secrets
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self._lock = threading.Lock()

    def progress(self, host: str, text: str) -> None:
        if self.quiet:
            return
        with self._lock:
            print(self.secrets.redact(f"[{host}] {text}"), file=self.err, flush=True)

    def line(self, text: str) -> None:
        """One line of the command's own output (stdout), secrets masked."""
        with self._lock:
            print(self.secrets.redact(text), file=self.out, flush=True)

    def error(self, text: str) -> None:
        with self._lock:
            print(self.secrets.redact(text), file=self.err, flush=True)

    def table(self, reports: list[HostReport]) -> None:
        header = ["主机", "操作", "结果", "版本", "耗时", "说明"]
        rows = [[r.host, r.action, r.result, r.version or "-", f"{r.duration:.1f}s",
                 self.secrets.redact(r.message)] for r in reports]
        widths = [max(display_width(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
        with self._lock:
            for row in [header, *rows]:
                cells = [_pad(c, w) for c, w in zip(row, widths)] + [row[-1]]
                print(self.secrets.redact("  ".join(cells).rstrip()), file=self.out)
            failed = sum(r.failed for r in reports)
            print(f"共 {len(reports)} 台，失败 {failed} 台", file=self.out, flush=True)
