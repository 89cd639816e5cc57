"""What making the XLSX report's cells inert (collector.reports.safe.inert_workbook) costs on the
monthly report at fleet scale: the all-units report of bench_monthly_report (1,000 hosts, 2,000
tickets) rendered to XLSX with and without the pass, alternating in one process.

Usage: .venv/bin/python bench/bench_report_inert.py [--hosts 1000] [--rounds 4]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))

import bench_monthly_report as monthly  # noqa: E402

from collector import migrate  # noqa: E402
from collector.db import make_engine, make_sessionmaker  # noqa: E402
from collector.reports import builder, safe, xlsx  # noqa: E402
from collector.sla import default_calendar  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        engine = make_engine(f"sqlite:///{d}/bench.db")
        migrate.upgrade(engine)
        factory = make_sessionmaker(engine)
        monthly.populate(factory, args.hosts)
        with factory() as db:
            data = builder.build(db=db, month=monthly.MONTH, unit="", calendar=default_calendar(),
                                 now=datetime(2026, 10, 8, 9, tzinfo=ZoneInfo("Asia/Shanghai")))
        engine.dispose()
    real = safe.inert_workbook
    variants = {"with": real, "without": lambda wb: 0}
    times: dict[str, list[float]] = {k: [] for k in variants}
    alone: list[float] = []

    def timed_pass(wb: object) -> int:
        t = time.perf_counter()
        n = real(wb)  # type: ignore[arg-type]
        alone.append(time.perf_counter() - t)
        return n

    variants["with"] = timed_pass
    for i in range(args.rounds):
        order = list(variants) if i % 2 == 0 else list(reversed(variants))
        for label in order:
            xlsx.inert_workbook = variants[label]  # type: ignore[assignment]
            t = time.perf_counter()
            xlsx.render(data)
            times[label].append(time.perf_counter() - t)
    for label, v in times.items():
        print(f"xlsx {label:7s} inert pass: median {statistics.median(v):.2f} s  {[round(x, 2) for x in v]}")
    print(f"the pass alone: median {statistics.median(alone) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
