"""The durable spool: seq, acks, bounds by size and age, drops counted and persisted."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.spool import Spool
from checks.model import Result, Status


def _result(i: int = 0, pad: int = 0) -> Result:
    return Result(host="web01", check=f"c{i}", system="os", status=Status.OK, summary="x" * pad)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_seq_is_assigned_stored_and_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    sp = Spool(path, max_bytes=1 << 20, max_age=86400)
    results = [_result(i) for i in range(3)]
    for r in results:
        sp.put(r)
    assert [r.seq for r in results] == [1, 2, 3]
    entries = sp.peek(10, 1 << 20)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert [e.id for e in entries] == [str(r.id) for r in results]
    assert '"seq":2' in entries[1].body
    sp.ack(entries)
    assert sp.depth == 0 and sp.bytes == 0
    sp.close()
    # all rows gone, reopened: the counter goes on
    sp = Spool(path, max_bytes=1 << 20, max_age=86400)
    r = _result()
    sp.put(r)
    assert r.seq == 4
    sp.close()


def test_peek_respects_limit_and_bytes_and_ack_is_partial(tmp_path: Path) -> None:
    sp = Spool(tmp_path / "spool.db", max_bytes=1 << 20, max_age=86400)
    for i in range(10):
        sp.put(_result(i, pad=1000))
    assert len(sp.peek(4, 1 << 20)) == 4
    small = sp.peek(100, 3000)
    assert 1 <= len(small) <= 3
    assert len(sp.peek(1, 10)) == 1  # a single result always goes, whatever its size
    sp.ack(sp.peek(4, 1 << 20))
    assert sp.depth == 6
    assert [e.seq for e in sp.peek(100, 1 << 20)] == [5, 6, 7, 8, 9, 10]
    sp.close()


def test_size_bound_drops_oldest_and_counts_persistently(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    sp = Spool(path, max_bytes=64 * 1024, max_age=86400)
    for i in range(100):
        sp.put(_result(i, pad=2000))
    assert sp.bytes <= 64 * 1024
    kept = sp.peek(1000, 1 << 30)
    assert kept[-1].seq == 100
    assert sp.dropped_total == 100 - len(kept)
    assert kept[0].seq == sp.dropped_total + 1  # the oldest went first
    dropped = sp.dropped_total
    sp.close()
    sp = Spool(path, max_bytes=64 * 1024, max_age=86400)
    assert sp.dropped_total == dropped
    assert sp.depth == len(kept)
    sp.close()


def test_age_bound_drops_old_results(tmp_path: Path) -> None:
    clock = Clock()
    sp = Spool(tmp_path / "spool.db", max_bytes=1 << 20, max_age=3600, clock=clock)
    for i in range(3):
        sp.put(_result(i))
    clock.now += 1800
    sp.put(_result(3))
    clock.now += 2000  # the first three are now older than an hour
    sp.maintain()
    assert [e.seq for e in sp.peek(10, 1 << 20)] == [4]
    assert sp.dropped_total == 3
    sp.close()


def test_corrupt_spool_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    path.write_bytes(b"this is not a database" * 100)
    sp = Spool(path, max_bytes=1 << 20, max_age=86400)
    r = _result()
    sp.put(r)
    assert r.seq == 1 and not sp.degraded
    assert list(tmp_path.glob("spool.db.corrupt-*"))
    sp.close()


def test_unwritable_spool_keeps_results_in_memory_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    sp = Spool(path, max_bytes=1 << 20, max_age=86400, memory_results=5)
    sp.put(_result(0))
    # Another writer holds the database: inserts fail like they do on a full disk.
    other = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    sp._db.execute("PRAGMA busy_timeout=10")  # type: ignore[union-attr]
    for i in range(1, 8):
        sp.put(_result(i))
    assert sp.degraded
    assert sp.dropped_total == 2  # memory holds 5, the two oldest of the 7 went
    entries = sp.peek(100, 1 << 20)
    assert [e.seq for e in entries] == [1, None, None, None, None, None]  # memory ones are sendable
    other.execute("ROLLBACK")
    other.close()
    sp.maintain()
    assert not sp.degraded
    assert [e.seq for e in sp.peek(100, 1 << 20)] == [1, 2, 3, 4, 5, 6]
    assert sp.dropped_total == 2
    sp.close()


def test_unsendable_results_are_refused_at_put_not_in_the_sender(tmp_path: Path) -> None:
    import math

    import pytest

    from checks.model import Metric

    sp = Spool(tmp_path / "spool.db", max_bytes=1 << 20, max_age=86400)
    bad = _result()
    bad.metrics = [Metric("x", math.nan)]
    with pytest.raises(ValueError):
        sp.put(bad)
    bad.metrics, bad.details = [], {"obj": object()}
    with pytest.raises(TypeError):
        sp.put(bad)
    assert sp.depth == 0
    good = _result()
    sp.put(good)
    assert good.seq == 1  # no seq was used up by the refused ones
    sp.close()


def test_packed_bodies_round_trip_and_rows_of_the_32k_window_still_read() -> None:
    """Bodies are packed with a 4 KiB window: a typical result compresses as with zlib's defaults,
    a body far larger than the window still round-trips, and a row packed with the 32 KiB window
    of earlier agents (same codec byte) is read as it was."""
    import json
    import random
    import zlib

    from agent.spool import _DEFLATE_V1, _ZDICT_V1, pack, unpack

    typical = json.dumps({"id": "0190a1b2c3d4e5f6a7b8c9d0e1f2a3b4", "seq": 7, "host": "db01", "check": "disk-root",
                          "type": "disk", "system": "os", "status": "OK", "summary": "已用 41.2%, 剩余 10.3 GiB",
                          "started_at": "2026-12-06T10:00:00.123456+00:00", "duration": 0.0123,
                          "metrics": [{"name": "used_percent:/", "value": 41.2, "unit": "%", "warn": None,
                                       "crit": None, "min": 0, "max": 100}], "details": {}},
                         ensure_ascii=False, separators=(",", ":"))
    rng = random.Random(5)
    large = json.dumps({"lines": [f"{rng.random():.12f} 凭证发送失败 seq={i}" for i in range(3000)]})

    def old_pack(body: str) -> bytes:
        c = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, _ZDICT_V1)
        return _DEFLATE_V1 + c.compress(body.encode("utf-8")) + c.flush()

    for body in (typical, large, ""):
        assert unpack(pack(body)) == body
        assert unpack(old_pack(body)) == body
    assert len(pack(typical)) <= len(old_pack(typical)) + 8 < len(typical.encode("utf-8")) // 2
