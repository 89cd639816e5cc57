"""On-disk size of the agent's spool per result, for the sizing table in docs/agent.md.

Fills a spool (no bound reached) with N results of the typical load (20 real checks of this
machine, tests/agent/typical_load.py) in turns of 20, and the same results stored as the agent
before compression stored them (JSON text rows, same schema), then prints bytes per result on disk
(database + WAL) and what max_age of the typical load (1,620 results an hour) needs.

    .venv/bin/python bench/bench_spool_size.py [N]     # N = 20000 by default
"""
from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests/: the typical load
from agent.spool import Spool, encode
from tests.agent.typical_load import CHECKS_PER_HOUR, replay, typical_results

TURN = 20
MiB = 1 << 20


def on_disk(db: Path) -> int:
    return sum(os.stat(f"{db}{s}").st_size for s in ("", "-wal") if os.path.exists(f"{db}{s}"))


def text_rows(db: Path, results: list, n: int) -> None:
    """The previous format: the JSON body as TEXT, one transaction a turn."""
    con = sqlite3.connect(str(db), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")  # the size is the point here, not the fsyncs
    con.execute("PRAGMA wal_autocheckpoint=100")
    con.execute("PRAGMA journal_size_limit=1048576")
    con.executescript("""
        CREATE TABLE results (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                              created REAL NOT NULL, size INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX results_created ON results(created);""")
    rows = []
    for seq, r in enumerate(replay(results, n), 1):
        r.seq = seq
        body = encode(r.to_dict())
        rows.append((seq, str(r.id), time.time(), len(body.encode()), body))
        if len(rows) == TURN:
            con.execute("BEGIN")
            con.executemany("INSERT INTO results VALUES (?,?,?,?,?)", rows)
            con.execute("COMMIT")
            rows = []
    con.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    work = Path(tempfile.mkdtemp(prefix="xj-spool-size-"))
    results = typical_results(work / "checks")
    json_avg = sum(len(encode(r.to_dict()).encode()) for r in results) / len(results)

    text_rows(work / "text.db", results, n)
    text = on_disk(work / "text.db") / n

    sp = Spool(work / "spool.db", max_bytes=1 << 40, max_age=30 * 86400)
    t0 = time.process_time()
    batch = []
    for r in replay(results, n):
        batch.append(r)
        if len(batch) == TURN:
            sp.put_many(batch)
            batch = []
    cpu = time.process_time() - t0
    packed = on_disk(work / "spool.db") / n
    stored = sp.bytes / n
    sp.close()

    week = CHECKS_PER_HOUR * 24 * 7
    print(f"typical result: {json_avg:.0f} B of JSON ({len(results)} checks of this machine), {n} results")
    print(f"text rows (before): {text:.0f} B a result on disk, {text / json_avg:.2f}x its JSON")
    print(f"compressed rows:    {packed:.0f} B a result on disk ({stored:.0f} B body), {packed / json_avg:.2f}x "
          f"its JSON; put_many {cpu / n * 1e6:.0f} us CPU a result")
    for days in (1, 2, 7, 14):
        k = CHECKS_PER_HOUR * 24 * days
        print(f"  {days:2d} d of the typical load ({k:,} results): {k * text / MiB:6.0f} MiB before, "
              f"{k * packed / MiB:6.0f} MiB now")
    print(f"7 d needs {week * packed / MiB:.0f} MiB now; the default 256 MiB holds "
          f"{256 * MiB / packed / CHECKS_PER_HOUR / 24:.1f} d")


if __name__ == "__main__":
    main()
