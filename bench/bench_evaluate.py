"""In-process cost of the ticket rules (collector.ingest.evaluate) on one batch: 100 OK results of 5 checks,
their states loaded, no ticket active (the common case). Prints the best of 7 repeats, µs per batch.

    .venv/bin/python bench/bench_evaluate.py
"""
from __future__ import annotations

import sys
import timeit
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests/: the records the property test uses
from checks.model import Status
from collector.config import Settings
from collector.ingest import evaluate as E
from tests.collector.test_ingest_evaluate import T0, Host, rec

CHECKS = [f"c{i}" for i in range(5)]


def main() -> None:
    recs = [rec(c, 60 + j, Status.OK, n) for n, (j, c) in enumerate((j, c) for j in range(20) for c in CHECKS)]
    states = {c: {"host_id": Host.id, "check": c, "type": "log", "system": "voucher", "status": 0, "summary": "x",
                  "metrics": "[]", "last_result_id": uuid.UUID(int=0), "last_started_at": T0, "consecutive_bad": 0,
                  "consecutive_ok": 5, "status_changes": 0, "since": T0 - timedelta(days=1)} for c in CHECKS}
    faults = E.fault_keys(Host.name, recs)
    settings = Settings()

    def once() -> None:
        E.evaluate(tx=None, host=Host, fresh=recs, faults=faults, states=states, found=set(), now=T0,  # type: ignore[arg-type]
                   settings=settings, save_later=[])
    n = 20000
    print(f"{min(timeit.repeat(once, number=n, repeat=7)) / n * 1e6:.1f} us per batch")


if __name__ == "__main__":
    main()
