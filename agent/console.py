"""`xunjian-agent check`: run every enabled check once and show the results."""
from __future__ import annotations

import json
import threading
import time
import unicodedata

from agent.config import AgentConfig
from agent.scheduler import state_path
from checks.base import Outcome, StateStore
from checks.model import Result, Status, utcnow, worst
from checks.runner import instantiate, run_check, timeout_result, to_result
from checks.spec import CheckSpec


def run_once(cfg: AgentConfig) -> list[Result]:
    """Every enabled check once, in turn, each under its timeout, reading but never moving saved
    state. In turn, not in parallel: checks of one type share per-item guards (the disk check's
    hung-mount registry) that would see a parallel sibling as stuck."""
    return [_run_one(cfg, spec) for spec in cfg.enabled_checks]


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
    results = run_once(cfg)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        print(table(results))
    return int(worst(r.status for r in results))
