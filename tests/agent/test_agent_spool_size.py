"""The spool's bound is kept on the files on disk (database + WAL), with real results of the
typical load: nothing lost within it, the oldest dropped and counted beyond it, and the default
`max_bytes` holds the default `max_age` of that load."""
from __future__ import annotations

import json
import os
import sqlite3
import uuid
from pathlib import Path

import pytest

from agent.config import SpoolOptions
from agent.spool import Spool
from checks.model import Result
from tests.agent.typical_load import CHECKS_PER_HOUR, replay, typical_results

TURN = 20  # results spooled together, as one turn of the typical load


@pytest.fixture(scope="module")
def typical(tmp_path_factory: pytest.TempPathFactory) -> list[Result]:
    return typical_results(tmp_path_factory.mktemp("typical"))


def on_disk(db: Path) -> int:
    """Database and WAL as the file system has them (not as the spool counts them)."""
    return sum(os.stat(f"{db}{suffix}").st_size for suffix in ("", "-wal") if os.path.exists(f"{db}{suffix}"))


def fill(sp: Spool, results: list[Result], count: int, db: Path, limit: int) -> list[str]:
    ids: list[str] = []
    batch: list[Result] = []
    for r in replay(results, count):
        batch.append(r)
        if len(batch) == TURN:
            sp.put_many(batch)
            ids.extend(str(b.id) for b in batch)
            batch = []
            assert on_disk(db) <= limit, f"{on_disk(db)} bytes on disk after {len(ids)} results"
    return ids


def test_files_on_disk_stay_within_max_bytes(tmp_path: Path, typical: list[Result]) -> None:
    db = tmp_path / "spool.db"
    limit = 1 << 20
    sp = Spool(db, max_bytes=limit, max_age=30 * 86400)
    # within the bound: nothing lost
    ids = fill(sp, typical, 1000, db, limit)
    assert sp.dropped_total == 0 and sp.depth == 1000
    # well past it (the JSON of these alone is ~4 MB): the oldest go first, counted
    ids += fill(sp, typical, 4000, db, limit)
    dropped = sp.dropped_total
    assert dropped > 0 and sp.depth + dropped == len(ids)
    kept = sp.peek(100_000, 1 << 40)
    assert [e.id for e in kept] == ids[dropped:]
    assert kept[0].seq == dropped + 1
    json_bytes = sum(e.size for e in kept)
    # bodies are compressed: the JSON kept is more than the whole bound, stored in well under half
    # of it (how much more depends on this machine's results, so the ratio is not pinned)
    assert json_bytes > limit and sp.bytes < 0.5 * json_bytes, (json_bytes, sp.bytes)
    first = json.loads(kept[0].body)
    assert first["seq"] == dropped + 1 and first["id"] == ids[dropped]
    # nothing lost within the bound after a restart either; the count survives
    sp.close()
    sp = Spool(db, max_bytes=limit, max_age=30 * 86400)
    assert sp.dropped_total == dropped and sp.depth == len(kept)
    sp.ack(sp.peek(500, 1 << 40))
    assert on_disk(db) <= limit
    sp.close()


def test_default_max_bytes_holds_max_age_of_the_typical_load(tmp_path: Path, typical: list[Result]) -> None:
    db = tmp_path / "spool.db"
    defaults = SpoolOptions()
    sp = Spool(db, max_bytes=defaults.max_bytes, max_age=defaults.max_age)
    n = 4000
    fill(sp, typical, n, db, defaults.max_bytes)
    per_result = on_disk(db) / n
    needed = per_result * CHECKS_PER_HOUR * defaults.max_age / 3600
    assert needed * 1.3 <= defaults.max_bytes, f"{per_result:.0f} B a result: {needed / 2**20:.0f} MiB needed"
    sp.close()


def test_text_rows_of_an_older_agent_are_read_and_an_oversized_file_compacted(tmp_path: Path,
                                                                               typical: list[Result]) -> None:
    db = tmp_path / "spool.db"
    old = sqlite3.connect(str(db), isolation_level=None)
    old.execute("PRAGMA journal_mode=WAL")
    old.executescript("""
        CREATE TABLE results (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                              created REAL NOT NULL, size INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE INDEX results_created ON results(created);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);""")
    bodies = []
    old.execute("BEGIN")
    for seq, r in enumerate(replay(typical, 3000), 1):
        r.seq = seq
        body = json.dumps(r.to_dict(), ensure_ascii=False, separators=(",", ":"))
        bodies.append(body)
        old.execute("INSERT INTO results VALUES (?,?,?,?,?)", (seq, str(r.id), 1e9, len(body.encode()), body))
    old.execute("COMMIT")
    old.execute("DELETE FROM results WHERE seq > 100")  # acked: the file keeps its pages
    old.close()
    assert on_disk(db) > 1 << 20
    sp = Spool(db, max_bytes=1 << 20, max_age=30 * 86400)
    assert [e.body for e in sp.peek(1000, 1 << 40)] == bodies[:100]
    r = next(replay(typical, 1))
    sp.put(r)
    assert r.seq == 3001 and sp.dropped_total == 0
    assert on_disk(db) <= 1 << 20
    assert sp.peek(1000, 1 << 40)[-1].id == str(r.id)
    sp.close()


def test_an_unreadable_stored_body_is_dropped_and_counted(tmp_path: Path, typical: list[Result]) -> None:
    db = tmp_path / "spool.db"
    sp = Spool(db, max_bytes=1 << 20, max_age=86400)
    results = list(replay(typical, 3))
    sp.put_many(results)
    sp._db.execute("UPDATE results SET body=? WHERE seq=2", (b"\x01garbage",))  # type: ignore[union-attr]
    assert [e.seq for e in sp.peek(10, 1 << 40)] == [1, 3]
    assert sp.dropped_total == 1
    sp.maintain()
    assert sp.depth == 2
    assert str(uuid.UUID(json.loads(sp.peek(10, 1 << 40)[1].body)["id"])) == str(results[2].id)
    sp.close()
