"""CPU of one round of bench_agent_footprint's 20 checks, split into user and system time per check type.

What the footprint benchmark's agent spends on the checks themselves, without the spool, the sender
and the scheduler: the same 20 checks (same config, writable check state in a temporary state_dir),
run in turn in this process, `--rounds` rounds `--gap` seconds apart, while the five log files get
`--lines` lines each between rounds (a minute of the footprint run). Per check, CPU is the process's
getrusage() user and system time around the run (the dirsize walks run on a worker thread of their
own; nothing else runs meanwhile). System time is what the kernel spends on the checks' system
calls (directory walks, /proc reads, statvfs, fsyncs of log positions): work any agent asking the
same questions has to have done.

Usage: .venv/bin/python bench/bench_agent_round_cpu.py [--rounds 30] [--gap 2] [--lines 60]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_agent_footprint import agent_checks  # noqa: E402

from agent.config import parse_checks  # noqa: E402
from agent.scheduler import state_path  # noqa: E402
from checks.base import StateStore  # noqa: E402
from checks.runner import instantiate, run_check  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--gap", type=float, default=2.0, help="seconds between rounds")
    ap.add_argument("--lines", type=int, default=60, help="lines appended to each log file between rounds")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="xj-round-"))
    (work / "logs").mkdir()
    for i in range(5):
        (work / "logs" / f"app{i}.log").write_text("start\n", encoding="utf-8")
    specs, _ = parse_checks(agent_checks(work), "checks")
    checks = [(spec, instantiate(spec, StateStore(state_path(work / "state", spec.name)))) for spec in specs]
    n = 0
    per_type: dict[str, list[tuple[float, float]]] = {}
    totals: list[tuple[float, float]] = []
    for r in range(args.rounds + 1):
        for i in range(5):
            with open(work / "logs" / f"app{i}.log", "a", encoding="utf-8") as f:
                for _ in range(args.lines):
                    n += 1
                    f.write(f"2026-11-25 10:00:{n % 60:02d} INFO 凭证已发送 seq={n}\n")
        round_user = round_sys = 0.0
        kinds: dict[str, list[float]] = {}
        for spec, check in checks:
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            run_check(check, spec, "bench")
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            u, s = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
            key = "dirsize /etc" if spec.type == "dirsize" and spec.options.path == "/etc" else spec.type
            k = kinds.setdefault(key, [0.0, 0.0])
            k[0] += u
            k[1] += s
            round_user += u
            round_sys += s
        if r:  # the first round fills caches and reads state files: not counted
            totals.append((round_user, round_sys))
            for key, (u, s) in kinds.items():
                per_type.setdefault(key, []).append((u, s))
        time.sleep(args.gap)
    for _, check in checks:
        check.close()

    def ms(v: float) -> str:
        return f"{v * 1000:.2f}"

    when = time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())
    print(f"### One round of the footprint benchmark's 20 checks ({when})\n")
    print(f"`.venv/bin/python bench/bench_agent_round_cpu.py --rounds {args.rounds} --gap {args.gap:g} "
          f"--lines {args.lines}`; mean of {len(totals)} rounds (getrusage, user/system as the kernel splits it)\n")
    print("| checks | user ms | system ms | total ms |")
    print("|---|---|---|---|")
    for key in sorted(per_type, key=lambda k: -sum(u + s for u, s in per_type[k])):
        rows = per_type[key]
        u = statistics.mean(x[0] for x in rows)
        s = statistics.mean(x[1] for x in rows)
        print(f"| {key} | {ms(u)} | {ms(s)} | {ms(u + s)} |")
    u = statistics.mean(x[0] for x in totals)
    s = statistics.mean(x[1] for x in totals)
    med = statistics.median(x[0] + x[1] for x in totals)
    print(f"| all 20 | {ms(u)} | {ms(s)} | {ms(u + s)} (median {ms(med)}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
