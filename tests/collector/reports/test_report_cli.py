"""`xunjian-collector report monthly` prints its result, no library chatter, and a failure as one
Chinese line (the traceback only with --debug)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXE = [sys.executable, "-m", "collector.cli"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=120)


def test_quiet_success_and_one_line_errors(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    out = tmp_path / "r.pdf"
    ok = run("report", "monthly", "--month", "2026-09", "--format", "pdf", "--out", str(out), "--db", db)
    assert ok.returncode == 0, ok.stderr
    size = out.stat().st_size
    assert ok.stderr.strip().splitlines() == [f"已生成 2026-09 全部单位 系统服务月报: {out} ({size} 字节)"]

    missing_dir = tmp_path / "no" / "r.pdf"
    bad = run("report", "monthly", "--month", "2026-09", "--format", "pdf", "--out", str(missing_dir), "--db", db)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [f"xunjian-collector: 文件或目录不存在: {missing_dir}"]

    down = run("report", "monthly", "--month", "2026-09", "--out", str(out), "--db", "postgresql://x@127.0.0.1:1/x")
    lines = down.stderr.strip().splitlines()
    assert down.returncode == 1 and len(lines) == 1 and lines[0].startswith("xunjian-collector: 无法访问数据库: ")

    debug = run("report", "monthly", "--month", "2026-09", "--format", "pdf", "--out", str(missing_dir), "--db", db,
                "--debug")
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "alembic.runtime.migration INFO" in debug.stderr  # --debug shows what the default hides
