"""`xunjian-agent check`: run every enabled check once and show the results.

The checks run in a child process that sends each result back as one JSON line. A call stuck
in the kernel (statvfs or a read on a dead NFS or FUSE mount) cannot be ended, not even by
SIGKILL, and a process is not gone before all its threads are: so the stuck thread lives in the
child, and this process prints and exits when its checks' timeouts are up, whatever the child
does. The child is killed on the way out (it dies once the call returns).
"""
from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
import unicodedata
import uuid
from datetime import datetime
from typing import Any, Optional

from agent.config import AgentConfig
from agent.scheduler import state_path
from checks.base import Outcome, StateStore
from checks.model import Metric, Result, Status, utcnow, worst
from checks.runner import instantiate, run_check, timeout_result, to_result
from checks.spec import CheckSpec


def run_once(cfg: AgentConfig) -> list[Result]:
    """Every enabled check once, in turn, each under its timeout, reading but never moving saved
    state. In turn, not in parallel: checks of one type share per-item guards (the disk check's
    hung-mount registry) that would see a parallel sibling as stuck."""
    return [_run_one(cfg, spec) for spec in cfg.enabled_checks]


GRACE = 0.5  # seconds past the sum of the timeouts for the child's last line


def run_isolated(cfg: AgentConfig) -> list[Result]:
    """run_once in a child process; every check has its result by the sum of the timeouts
    (+ GRACE) at the latest, a stuck child notwithstanding."""
    specs = cfg.enabled_checks
    if not hasattr(os, "fork") or not specs:
        return run_once(cfg)
    started = utcnow()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read_fd)
            # Not the caller's stdout/stderr: a stuck child would keep them open, and whoever
            # reads this command's output would wait for it.
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            for spec in specs:
                line = json.dumps(_run_one(cfg, spec).to_dict(), ensure_ascii=False, default=str) + "\n"
                _write_all(write_fd, line.encode("utf-8"))
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        lines = _read_lines(read_fd, len(specs), time.monotonic() + sum(s.timeout for s in specs) + GRACE)
    finally:
        os.close(read_fd)
        _let_go(pid)
    results = [_from_wire(line) for line in lines]
    for spec in specs[len(results):]:  # the child died or is stuck past its own timeouts
        results.append(timeout_result(spec, cfg.host, started, (utcnow() - started).total_seconds()))
    return results


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def _read_lines(fd: int, count: int, deadline: float) -> list[bytes]:
    import selectors

    lines: list[bytes] = []
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while len(lines) < count:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            *done, buf = buf.split(b"\n")
            lines.extend(done)
    return lines[:count]


def _let_go(pid: int) -> None:
    """Kill the child and reap it if it is gone; never wait for it (it may be stuck)."""
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, os.WNOHANG)
    except OSError:
        pass


def _from_wire(line: bytes) -> Result:
    """A result as the check child printed it (`Result.to_dict`: our own output, not the collector's input)."""
    d: dict[str, Any] = json.loads(line)
    metrics = [Metric(name=m["name"], value=float(m["value"]), unit=m["unit"], warn=m["warn"], crit=m["crit"],
                      min=m["min"], max=m["max"]) for m in d["metrics"] if _finite(m.get("value"))]
    return Result(id=uuid.UUID(d["id"]), seq=d["seq"], host=d["host"], check=d["check"], type=d["type"],
                  system=d["system"], status=Status[d["status"]], summary=d["summary"],
                  started_at=datetime.fromisoformat(d["started_at"]), duration=d["duration"], metrics=metrics,
                  details=d["details"])


def _finite(value: Optional[float]) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _run_one(cfg: AgentConfig, spec: CheckSpec) -> Result:
    box: list[Result] = []
    started = utcnow()
    t0 = time.monotonic()

    def work() -> None:
        check = None
        try:
            check = instantiate(spec, StateStore(state_path(cfg.state_dir, spec.name), readonly=True))
            box.append(run_check(check, spec, cfg.host))
        except Exception as e:
            box.append(to_result(Outcome(Status.UNKNOWN, f"检查初始化失败: {type(e).__name__}: {e}"),
                                 spec, cfg.host, started, time.monotonic() - t0))
        finally:
            if check is not None:
                try:
                    check.close()
                except Exception:
                    pass

    t = threading.Thread(target=work, name=f"check:{spec.name}", daemon=True)
    t.start()
    t.join(spec.timeout)
    if not box:
        return timeout_result(spec, cfg.host, started, time.monotonic() - t0)
    return box[0]


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def clip(text: str, limit: int) -> str:
    out, w = "", 0
    for c in text:
        cw = width(c)
        if w + cw > limit - 1:
            return out + "…"
        out += c
        w += cw
    return out


def pad(text: str, w: int) -> str:
    return text + " " * max(0, w - width(text))


def table(results: list[Result], summary_width: int = 70) -> str:
    head = ["检查 check", "系统 system", "状态 status", "摘要 summary", "耗时 duration"]
    rows = [[r.check, r.system, f"{r.status.label_zh} {r.status.name}", clip(r.summary, summary_width),
             f"{r.duration:.2f}s"] for r in results]
    widths = [max(width(row[i]) for row in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(pad(c, widths[i]) for i, c in enumerate(row)).rstrip() for row in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    tally = ", ".join(f"{s.label_zh} {n}" for s, n in sorted(counts.items()))
    lines.append("")
    overall = worst(r.status for r in results).label_zh
    lines.append(f"共 {len(results)} 项检查: {tally or '无'}; 总体状态 {overall}")
    return "\n".join(lines)


def check_command(cfg: AgentConfig, as_json: bool) -> int:
    results = run_isolated(cfg)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        print(table(results))
    return int(worst(r.status for r in results))
