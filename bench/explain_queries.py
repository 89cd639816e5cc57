"""EXPLAIN ANALYZE of the common queries on a year of results (PostgreSQL, fresh schema at head).

Fills `results` with a year of hourly results for --hosts hosts × 5 checks (generate_series, monthly
partitions created by the retention job's ensure_partitions), then prints the plan and time of: the
results list by host and check, the results list of everything, the ticket list, and the latest state
of a host's checks.

    .venv/bin/python bench/explain_queries.py [--hosts 200]
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_ingest import fresh_db
from collector import migrate

QUERIES = {
    "results by host+check": 'SELECT * FROM results WHERE host_id = 7 AND "check" = \'voucher-log\' '
                             "ORDER BY started_at DESC, id DESC LIMIT 101",
    "results, all hosts": "SELECT * FROM results ORDER BY started_at DESC, id DESC LIMIT 101",
    "results by host since a day": "SELECT * FROM results WHERE host_id = 7 AND started_at >= now() - interval "
                                   "'1 day' ORDER BY started_at DESC, id DESC LIMIT 101",
    "open tickets": "SELECT * FROM tickets WHERE status = 'open' ORDER BY id DESC LIMIT 101",
    "latest states of a host": 'SELECT * FROM check_states WHERE host_id = 7 ORDER BY host_id, "check"',
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=200)
    args = ap.parse_args()
    url, drop = fresh_db("postgres", Path("."))
    engine = sa.create_engine(url)
    try:
        migrate.upgrade(engine)
        from sqlalchemy.orm import Session

        from collector.rollups.retention import ensure_partitions

        with Session(engine) as db:
            for months_back in range(12, -1, -1):  # partitions for the past year too
                now = datetime.now(timezone.utc)
                at = now.replace(day=1, year=now.year - (1 if now.month - months_back <= 0 else 0),
                                 month=(now.month - months_back - 1) % 12 + 1)
                ensure_partitions(db=db, now=at, tz="Asia/Shanghai", ahead=0)
            db.commit()
        t = time.perf_counter()
        with engine.begin() as c:
            c.execute(sa.text(
                'INSERT INTO results (started_at, id, host_id, "check", type, system, status, summary, duration, '
                "metrics, details, seq, received_at) SELECT ts, gen_random_uuid(), h, ch, 'log', 'voucher', "
                "(random() < 0.01)::int * 2, 'ok', 0.01, '[]', '{}', NULL, ts FROM generate_series(1, :h) h, "
                "unnest(ARRAY['voucher-log','seal-log','root-disk','data-disk','voucher-proc']) ch, "
                "generate_series(now() - interval '365 days', now(), interval '1 hour') ts"), {"h": args.hosts})
            c.execute(sa.text("ANALYZE results"))
            n = c.execute(sa.text("SELECT count(*) FROM results")).scalar_one()
        print(f"{n} results in {time.perf_counter() - t:.0f}s")
        with engine.connect() as c:
            for name, q in QUERIES.items():
                plan = [r[0] for r in c.execute(sa.text("EXPLAIN (ANALYZE, COSTS OFF) " + q))]
                print(f"== {name}: {plan[-1].strip()}")
                for line in plan[:-2]:
                    print("   " + line)
    finally:
        engine.dispose()
        if drop is not None:
            drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
