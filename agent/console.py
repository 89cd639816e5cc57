"""`xunjian-agent check`: run every enabled check once and show the results."""
from __future__ import annotations

import json
import threading
import time
import unicodedata
from typing import Optional

from agent.config import AgentConfig
from agent.scheduler import state_path
from checks.base import Outcome, StateStore
from checks.model import Result, Status, utcnow, worst
from checks.runner import instantiate, run_check, timeout_result, to_result
from checks.spec import CheckSpec


def run_once(cfg: AgentConfig) -> list[Result]:
    """All enabled checks in parallel, each with its timeout, reading but never moving saved state."""
    results: list[Optional[Result]] = [None] * len(cfg.enabled_checks)
    threads: list[tuple[threading.Thread, CheckSpec, int]] = []
    started = utcnow()

    def work(i: int, spec: CheckSpec) -> None:
        check = None
        try:
            check = instantiate(spec, StateStore(state_path(cfg.state_dir, spec.name), readonly=True))
            results[i] = run_check(check, spec, cfg.host)
        except Exception as e:
            results[i] = to_result(Outcome(Status.UNKNOWN, f"检查初始化失败: {type(e).__name__}: {e}"),
                                   spec, cfg.host, utcnow(), 0.0)
        finally:
            if check is not None:
                try:
                    check.close()
                except Exception:
                    pass

    for i, spec in enumerate(cfg.enabled_checks):
        t = threading.Thread(target=work, args=(i, spec), daemon=True)
        t.start()
        threads.append((t, spec, i))
    t0 = time.monotonic()
    for t, spec, i in threads:
        t.join(max(0.0, spec.timeout - (time.monotonic() - t0)))
        if t.is_alive() or results[i] is None:
            results[i] = timeout_result(spec, cfg.host, started, time.monotonic() - t0)
    return [r for r in results if r is not None]


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
    results = run_once(cfg)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        print(table(results))
    return int(worst(r.status for r in results))
