"""In-process cost of validating one 100-result batch (collector.ingest.records.parse) of the tree given as
the first argument, e.g. a `git archive` of an older commit; prints the median of 7 rounds of 200 parses.

    .venv/bin/python bench/bench_ingest_parse.py /tmp/xj-base
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, sys.argv[1])

from checks.model import Metric, Result, Status
from collector.ingest.records import parse


def body(now: datetime) -> bytes:
    results = []
    for i in range(100):
        r = Result(host="web01", check=f"c{i % 5}", system="os", status=Status.OK, summary="磁盘 / 已用 42%",
                   started_at=now - timedelta(seconds=60 - i * 0.3), duration=0.01, type="disk", seq=i,
                   metrics=[Metric("used_percent:/", 42.0, "%", "80", "90", 0, 100)],
                   details={"samples": ["a", "b"]})
        results.append(r.to_dict())
    agent = {"host": "web01", "version": "0.1.0", "heartbeat": 30, "dropped_total": 0, "labels": {"unit": "x"}}
    return json.dumps({"agent": agent, "results": results}, ensure_ascii=False).encode()


def main() -> None:
    now = datetime.now(timezone.utc)
    data = body(now)
    rounds = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(200):
            parse(data, max_results=1000, max_depth=8, now=now)
        rounds.append((time.perf_counter() - t0) / 200 * 1e6)
    print(f"{sys.argv[1]}: median {statistics.median(rounds):.1f} us, min {min(rounds):.1f} us per 100-result batch")


if __name__ == "__main__":
    main()
