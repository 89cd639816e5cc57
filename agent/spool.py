"""Store and forward: every result waits in a durable SQLite spool until the collector acks it.

- `seq` is assigned at insert from a per-agent counter that only grows (AUTOINCREMENT keeps the
  highest value ever used), and written into the stored body, so a resend after a crash carries the
  same id and seq and the collector can dedup and detect gaps.
- WAL + synchronous=FULL: a committed insert survives kill -9 and power loss.
- Bounded by age and by `max_bytes` measured on the files on disk (database + WAL), not on the
  results' JSON: a write that would grow the database past its share is rolled back and done
  again after dropping the oldest results; the WAL is truncated once it outgrows its share. The
  oldest go first and are counted in `dropped_total` (persisted).
- Bodies are stored zlib-compressed with a preset dictionary of the result's keys (about a
  third of their JSON size); rows of an older agent, stored as text, are read as they are.
- A full disk never crashes the agent: results wait in a small in-memory queue (also sendable) and
  are moved into SQLite once writes succeed again.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import zlib
from collections import deque
from pathlib import Path
from typing import Any, Callable, Optional

from agent.throttle import Throttle
from checks.model import Result

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_created ON results(created);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


# The WAL's share of max_bytes (at most WAL_SHARE_MAX): past it, the WAL is checkpointed and
# truncated after the write that grew it.
WAL_SHARE = 8
WAL_SHARE_MAX = 1 << 20

# Stored bodies: one codec byte, then the data. Text rows (an older agent's) have no codec byte.
_DEFLATE_V1 = b"\x01"
# Preset dictionary of what every result repeats (zlib looks back into it, so a 400-byte body
# compresses as if it were the tail of a longer one). Never change it: stored rows need it; a new
# dictionary needs a new codec byte.
_ZDICT_V1 = (
    '"metrics":[],"details":{},"warn":null,"crit":null,"min":null,"max":null,"unit":"%","unit":"s",'
    '"unit":"B","files":[{"path":"/","samples":[],"line":"","exit_code":0,"elapsed":0.0,'
    '"exec_seconds","used_percent:/","free_bytes:/","inodes_used_percent:/","critical_events",'
    '"warning_events","processes","load1","cpu_percent","mem_used_percent","swap_used_percent",'
    '"system":"os","system":"voucher","system":"seal","system":"mq","type":"disk","type":"log",'
    '"type":"process","type":"system","type":"command","type":"tcp","type":"http","type":"cert",'
    '"type":"sql","type":"mq","status":"WARNING","status":"CRITICAL","status":"UNKNOWN",'
    '"summary":"未发现错误, 已用 ","status":"OK","started_at":"20","duration":0.0,'
    '{"id":"0","seq":1,"host":"","check":"","type":"","system":"os","status":"OK","summary":"'
).encode()


# A body is a few hundred bytes: a 4 KiB window (the dictionary fits) and memLevel 5 compress it as
# well as a 32 KiB window and memLevel 9, whose ~400 KiB of buffers per result kept heap pages
# resident (-0.1 MiB private, docs/benchmarks.md). unpack's wbits 15 reads any smaller window.
_PACK_WBITS = 12
_PACK_MEMLEVEL = 5


def pack(body: str) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, _PACK_WBITS, _PACK_MEMLEVEL, zlib.Z_DEFAULT_STRATEGY, _ZDICT_V1)
    return _DEFLATE_V1 + c.compress(body.encode("utf-8")) + c.flush()


def unpack(stored: str | bytes) -> str:
    """A stored body as JSON text; raises ValueError when it cannot be read."""
    if isinstance(stored, str):
        return stored
    if stored[:1] != _DEFLATE_V1:
        raise ValueError(f"unknown spool codec {stored[:1]!r}")
    try:
        d = zlib.decompressobj(15, _ZDICT_V1)
        return (d.decompress(stored[1:]) + d.flush()).decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as e:
        raise ValueError(f"unreadable spooled body: {e}") from None


class Entry:
    """One spooled result as the sender sees it: seq is None while it only lives in memory.
    `size` is its JSON size (what it adds to a request), `stored` what it takes in the spool."""

    __slots__ = ("body", "id", "seq", "size", "stored")

    def __init__(self, seq: Optional[int], id: str, body: str, stored: Optional[int] = None) -> None:
        self.seq = seq
        self.id = id
        self.body = body
        self.size = len(body.encode("utf-8"))
        self.stored = self.size if stored is None else stored


def encode(d: dict[str, Any]) -> str:
    # allow_nan=False: NaN is not JSON and the collector would refuse the whole batch for it
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def is_disk_problem(e: BaseException) -> bool:
    """Disk full, read-only or I/O trouble: degrade and retry, never crash."""
    if isinstance(e, sqlite3.OperationalError):
        return True
    return isinstance(e, OSError)


class Spool:
    def __init__(self, path: Path, *, max_bytes: int, max_age: float, memory_results: int = 1000,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.max_bytes = int(max_bytes)
        self.max_age = float(max_age)
        self.clock = clock
        self._lock = threading.RLock()
        self._db: Optional[sqlite3.Connection] = None
        self._memory: deque[dict[str, Any]] = deque()
        self._memory_max = memory_results
        self._acked_unsaved: dict[int, int] = {}  # seq -> size: acked but the delete failed (disk full)
        self._dropped_unsaved = 0  # drops not yet written to meta
        self._dropped_saved = 0
        self._count = 0
        self._bytes = 0  # stored (compressed) bytes of the rows
        self._next_seq = 1
        self._page_size = 4096
        self._throttle = Throttle(60.0)
        self.degraded = False
        self._open()

    # -- public -------------------------------------------------------------------------------

    @property
    def dropped_total(self) -> int:
        return self._dropped_saved + self._dropped_unsaved

    @property
    def depth(self) -> int:
        return self._count - len(self._acked_unsaved) + len(self._memory)

    @property
    def bytes(self) -> int:
        """Stored (compressed) bytes of the results waiting."""
        return self._bytes - sum(self._acked_unsaved.values())

    @property
    def disk_bytes(self) -> int:
        """What the spool takes on disk: the database and its WAL, as the file system says."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += os.stat(str(self.path) + suffix).st_size
            except OSError:
                pass
        return total

    @property
    def wal_share(self) -> int:
        return min(WAL_SHARE_MAX, self.max_bytes // WAL_SHARE)

    def put(self, result: Result) -> None:
        """Spool one result (assigning its seq); never raises for disk trouble."""
        self.put_many([result])

    def put_many(self, results: list[Result]) -> None:
        """Spool results in one transaction (one fsync), assigning their seqs in order; never
        raises for disk trouble. Raises TypeError/ValueError, before storing any of them, for a
        result whose details cannot be sent (the sender must never meet one)."""
        batch = [result.to_dict() for result in results]
        with self._lock:
            if self._db is not None and not self._memory:
                try:
                    # _insert encodes every body before it writes any (TypeError/ValueError first)
                    for result, seq in zip(results, self._insert(batch)):
                        result.seq = seq
                    self._recovered()
                    return
                except (sqlite3.Error, OSError) as e:
                    self._degrade("insert", e)
            for d in batch:
                encode(d)  # refused here too, before any is kept
            for result, d in zip(results, batch):
                d["seq"] = None
                result.seq = None
                self._memory.append(d)
            while len(self._memory) > self._memory_max:
                self._memory.popleft()
                self._dropped_unsaved += 1
            self.maintain()

    def peek(self, limit: int, max_bytes: int) -> list[Entry]:
        """The oldest unacknowledged results, at most `limit` and about `max_bytes` of bodies."""
        out: list[Entry] = []
        total = 0
        with self._lock:
            if self._db is not None:
                try:
                    rows = self._db.execute(
                        "SELECT seq, id, body, size FROM results ORDER BY seq LIMIT ?",
                        (limit + len(self._acked_unsaved),)).fetchall()
                except (sqlite3.Error, OSError) as e:
                    self._degrade("read", e)
                    rows = []
                for seq, rid, stored, size in rows:
                    if seq in self._acked_unsaved:
                        continue
                    try:
                        e = Entry(seq, rid, unpack(stored), size)
                    except ValueError as err:
                        self._drop_unreadable(seq, size, err)
                        continue
                    if out and total + e.size > max_bytes:
                        return out
                    out.append(e)
                    total += e.size
                    if len(out) >= limit:
                        return out
            for d in self._memory:
                e = Entry(None, d["id"], encode(d))
                if out and total + e.size > max_bytes:
                    break
                out.append(e)
                total += e.size
                if len(out) >= limit:
                    break
        return out

    def ack(self, entries: list[Entry]) -> None:
        """Remove acknowledged results, in seq order, in one transaction."""
        if not entries:
            return
        with self._lock:
            mem_ids = {e.id for e in entries if e.seq is None}
            if mem_ids:
                self._memory = deque(d for d in self._memory if d["id"] not in mem_ids)
            pending = {e.seq: e.stored for e in entries if e.seq is not None}
            self._acked_unsaved.update(pending)
            self._flush_acks()

    def maintain(self) -> None:
        """Periodic upkeep: reopen after trouble, move memory into SQLite, expire by age."""
        with self._lock:
            if self._db is None:
                self._open()
                if self._db is None:
                    return
            try:
                self._flush_acks()
                if self._memory:
                    batch = list(self._memory)
                    self._insert(batch)
                    self._memory.clear()
                    log.info("spool: %d results moved from memory to %s", len(batch), self.path)
                self._expire()
                if self._dropped_unsaved:
                    self._write([])
                self._recovered()
            except (sqlite3.Error, OSError) as e:
                self._degrade("upkeep", e)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                try:
                    self._flush_acks()
                    self._db.close()
                except (sqlite3.Error, OSError):
                    pass
                self._db = None

    # -- internals ----------------------------------------------------------------------------

    def _open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _create_private(self.path)
            db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
            try:
                self._setup(db)
            except sqlite3.DatabaseError as e:
                db.close()
                if is_disk_problem(e) and not _is_corrupt(e):
                    raise
                aside = self.path.with_name(f"{self.path.name}.corrupt-{int(self.clock())}")
                log.warning("spool %s is unreadable (%s); moved aside to %s, starting afresh",
                            self.path, e, aside)
                os.replace(self.path, aside)
                for suffix in ("-wal", "-shm"):
                    try:
                        os.unlink(str(self.path) + suffix)
                    except OSError:
                        pass
                _create_private(self.path)
                db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None,
                                     check_same_thread=False)
                self._setup(db)
            self._db = db
        except (sqlite3.Error, OSError) as e:
            self._db = None
            self._degrade("open", e)

    def _setup(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        self._page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
        # Checkpoint early and cap the WAL file within its share: the spool often lives on a small /var.
        share = self.wal_share
        db.execute(f"PRAGMA wal_autocheckpoint={max(2, share // 2 // (self._page_size + 24))}")
        db.execute(f"PRAGMA journal_size_limit={share}")
        count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM results").fetchone()
        top = db.execute("SELECT COALESCE(MAX(seq), 0) FROM results").fetchone()[0]
        row = db.execute("SELECT seq FROM sqlite_sequence WHERE name='results'").fetchone()
        dropped = db.execute("SELECT value FROM meta WHERE key='dropped_total'").fetchone()
        self._count, self._bytes = int(count), int(size)
        self._next_seq = max(int(top), int(row[0]) if row else 0) + 1
        self._dropped_saved = int(dropped[0]) if dropped else 0
        self._acked_unsaved.clear()

    def _insert(self, items: list[dict[str, Any]]) -> list[int]:
        """Insert in one transaction, making room first; returns the seqs. Raises on disk trouble."""
        now = self.clock()
        seq = self._next_seq
        rows = []
        try:
            for d in items:
                d["seq"] = seq
                body = pack(encode(d))
                rows.append((seq, d["id"], now, len(body), body))
                seq += 1
            self._write(rows)
        except BaseException:
            for d in items:
                d["seq"] = None
            raise
        self._next_seq = seq
        return [r[0] for r in rows]

    def _write(self, rows: list[tuple[int, str, float, int, bytes]]) -> None:
        """One transaction: insert `rows`, evicting the oldest first when the database would
        outgrow its share of max_bytes, and persist the drop counter.

        Deleted rows leave their pages to the free list, which inserts reuse; so a write that
        made the file grow past its share is rolled back and done again after deleting the
        oldest rows, more each time, until the file keeps its size (or nothing is left to drop)."""
        assert self._db is not None
        db = self._db
        incoming = sum(r[3] for r in rows)
        budget = max(0, self.max_bytes - self.wal_share) // self._page_size
        target = 0  # stored bytes of the oldest rows to delete before inserting
        while True:
            db.execute("BEGIN IMMEDIATE")
            try:
                evicted, removed, freed, gone, left = self._evict(db, target)
                db.executemany("INSERT INTO results(seq, id, created, size, body) VALUES (?,?,?,?,?)", rows)
                over = _used_pages(db) - budget
                if over > 0 and left:
                    _rollback(db)
                    target = max(2 * target, 2 * over * self._page_size)
                    continue
                dropped = self._dropped_saved + self._dropped_unsaved + evicted
                if dropped != self._dropped_saved:
                    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('dropped_total', ?)",
                               (dropped,))
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
            break
        if evicted:
            log.warning("spool full (%d bytes max): dropped the %d oldest results", self.max_bytes, evicted)
        self._dropped_saved = dropped
        self._dropped_unsaved = 0
        self._count += len(rows) - removed
        self._bytes += incoming - freed
        for seq in gone:
            self._acked_unsaved.pop(seq, None)
        try:  # committed: trouble from here on must not make the caller keep the rows again
            self._shrink(budget)
            self._trim_wal()
        except (sqlite3.Error, OSError) as e:
            self._degrade("checkpoint", e)

    def _evict(self, db: sqlite3.Connection, target: int) -> tuple[int, int, int, list[int], int]:
        """Delete the oldest rows until `target` stored bytes are gone; returns (lost, removed,
        freed bytes, their seqs, rows left)."""
        freed, gone = 0, []
        while freed < target:  # in chunks: the spool may hold a week of results
            chunk = db.execute("SELECT seq, size FROM results WHERE seq > ? ORDER BY seq LIMIT 256",
                               (gone[-1] if gone else 0,)).fetchall()
            if not chunk:
                break
            for seq, size in chunk:
                if freed >= target:
                    break
                freed += size
                gone.append(seq)
        if gone:
            db.execute("DELETE FROM results WHERE seq <= ?", (gone[-1],))
        evicted = sum(1 for seq in gone if seq not in self._acked_unsaved)  # an acked one is no loss
        return evicted, len(gone), freed, gone, self._count - len(gone)

    def _shrink(self, budget: int) -> None:
        """A database file larger than its share whose rows fit (max_bytes lowered, the file of an
        older agent) is rewritten compactly. Rare: otherwise the file keeps its size and its free
        pages are reused."""
        assert self._db is not None
        pages = int(self._db.execute("PRAGMA page_count").fetchone()[0])
        if pages > budget and int(self._db.execute("PRAGMA freelist_count").fetchone()[0]):
            self._db.execute("VACUUM")
            log.info("spool %s: compacted from %d to %d pages to fit max_bytes", self.path, pages,
                     int(self._db.execute("PRAGMA page_count").fetchone()[0]))

    def _trim_wal(self) -> None:
        """The WAL past its share: copy it into the database and truncate it."""
        assert self._db is not None
        try:
            size = os.stat(str(self.path) + "-wal").st_size
        except OSError:
            return
        if size > self.wal_share:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _drop_unreadable(self, seq: int, size: int, err: BaseException) -> None:
        """A stored body that cannot be read back is dropped (with the next delete) and counted,
        never sent garbled."""
        log.warning("spool: result seq %d is unreadable (%s); dropped", seq, err)
        self._acked_unsaved[seq] = size
        self._dropped_unsaved += 1

    def _recount(self) -> None:
        assert self._db is not None
        count, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM results").fetchone()
        self._count, self._bytes = int(count), int(size)

    def _flush_acks(self) -> None:
        if not self._acked_unsaved or self._db is None:
            return
        db = self._db
        removed, freed = 0, 0
        try:
            # An ack lost to a power cut only means a resend, which the collector dedups by id:
            # no fsync of its own (the next insert's fsync covers it).
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("BEGIN IMMEDIATE")
            seqs = sorted(self._acked_unsaved)
            removed = db.executemany("DELETE FROM results WHERE seq=?", [(seq,) for seq in seqs]).rowcount
            db.execute("COMMIT")
            freed = sum(self._acked_unsaved.values())
        except (sqlite3.Error, OSError) as e:
            _rollback(db)
            self._degrade("delete", e)
            return
        finally:
            try:
                db.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error:
                pass
        self._acked_unsaved.clear()
        try:
            self._trim_wal()
        except (sqlite3.Error, OSError) as e:
            self._degrade("checkpoint", e)
        if removed == len(seqs):
            self._count -= removed
            self._bytes -= freed
        else:  # some were gone already (evicted meanwhile): count again rather than guess
            try:
                self._recount()
            except (sqlite3.Error, OSError) as e:
                self._degrade("read", e)

    def _expire(self) -> None:
        assert self._db is not None
        cutoff = self.clock() - self.max_age
        db = self._db
        if not db.execute("SELECT 1 FROM results WHERE created < ? LIMIT 1", (cutoff,)).fetchone():
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute("DELETE FROM results WHERE created < ?", (cutoff,)).rowcount
            dropped = self._dropped_saved + self._dropped_unsaved + n
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('dropped_total', ?)", (dropped,))
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        self._dropped_saved, self._dropped_unsaved = dropped, 0
        self._recount()
        try:
            self._trim_wal()
        except (sqlite3.Error, OSError) as e:
            self._degrade("checkpoint", e)
        log.warning("spool: dropped %d results older than %gs", n, self.max_age)

    def _recovered(self) -> None:
        if self.degraded:
            self.degraded = False
            self._throttle = Throttle(60.0)  # the next trouble is reported at once
            log.info("spool %s writable again", self.path)

    def _degrade(self, what: str, e: BaseException) -> None:
        self.degraded = True
        if self._throttle.ready(what, time.monotonic()):
            log.warning("spool %s %s failed (%s); keeping results in memory and retrying", self.path, what,
                        e)


def _create_private(path: Path) -> None:
    """Create the database file 0600 before SQLite does (it would use 0644 less the umask); its
    WAL and shared-memory files take the database's mode."""
    try:
        os.close(os.open(str(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _used_pages(db: sqlite3.Connection) -> int:
    """Pages of the database that hold data (in a transaction: as it would be committed)."""
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    return pages - int(db.execute("PRAGMA freelist_count").fetchone()[0])


def _rollback(db: sqlite3.Connection) -> None:
    try:
        db.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _is_corrupt(e: BaseException) -> bool:
    text = str(e).lower()
    return "not a database" in text or "malformed" in text
