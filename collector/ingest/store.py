"""Idempotent insert of a batch of records, and the check states the rules need, in as few statements as
the database allows (docs/ingest.md).

PostgreSQL, a batch that cannot have been stored before (every result's seq above the host's stored
`last_seq`, read under its row lock): the states are read, then the rows go in by binary COPY. The seq
test is only a hint: a result stored after all makes COPY (or the look-up of the batch's ids just
before it) fail, the transaction rolls back and the batch is written again with `tx.careful`, which
takes the INSERT.
PostgreSQL, any other batch: one prepared statement — `WITH ins AS (INSERT … SELECT … FROM unnest(arrays)
WHERE (same id stored) IS NULL ON CONFLICT (started_at, id) DO NOTHING RETURNING id)` followed by the
batch's check states, its active faults and the new ids — with the batch as binary arrays
(collector.pgarrays).
SQLite: one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING id` in the storage formats SQLAlchemy
itself uses (naive UTC text times, 32-hex UUIDs, JSON text), then the states (collector.ingest.states).
"""
from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Optional

from collector import pgarrays as A
from collector.ingest import states as state_rows
from collector.ingest.records import Rec
from collector.ingest.tx import Tx, sqlite_time

_COLS = ('started_at, id, host_id, "check", type, system, status, summary, duration, metrics, details, seq, '
         'received_at')
# Where a stored row of the same id can be: both started_at within a day of the id's time
# (collector.ingest.records.ID_TIME_TOLERANCE), so within two days of each other; partitions outside are
# pruned. A scalar subquery per result, so that each is one probe of ix_results_id (id, started_at), whatever
# the planner's statistics (a join may scan the primary key's whole time range instead).
_SAME_ID = ("(SELECT 1 FROM results r WHERE r.id = u.i "
            "AND r.started_at BETWEEN u.s - interval '2 days' AND u.s + interval '2 days' LIMIT 1)")
_PG_STORED_IDS = (f"SELECT 1 FROM unnest(%(i)b::uuid[], %(s)b::timestamptz[]) AS u(i, s) "
                  f"WHERE {_SAME_ID} IS NOT NULL LIMIT 1")
_PG_SQL = (
    f"WITH ins AS (INSERT INTO results ({_COLS}) "
    "SELECT s, i, %(host)s, c, t, y, st, su, du, m::json, de::json, sq, %(now)s FROM unnest("
    "%(s)b::timestamptz[], %(i)b::uuid[], %(c)b::text[], %(t)b::text[], %(y)b::text[], %(st)b::int2[], "
    "%(su)b::text[], %(du)b::float8[], %(m)b::text[], %(de)b::text[], %(sq)b::int8[]) "
    "AS u(s, i, c, t, y, st, su, du, m, de, sq) "
    f"WHERE {_SAME_ID} IS NULL "
    "ON CONFLICT (started_at, id) DO NOTHING RETURNING id) "
    f"{state_rows.PG_STATES_SQL} UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, id FROM ins")
_SQLITE_ROWS = 2000  # 13 parameters a row, well under SQLite's 32766


def unique(recs: Sequence[Rec]) -> list[Rec]:
    """Drop repeats of an id inside one batch (whatever their started_at): stored once, counted as
    duplicates."""
    seen: set[uuid.UUID] = set()
    out = []
    for r in recs:
        if r.id not in seen:
            seen.add(r.id)
            out.append(r)
    return out


class StoredBefore(Exception):
    """An id of a batch taken as new is stored already (with another started_at: COPY's primary key did
    not see it). Its sqlstate makes the group writer retry the batch alone on the careful path."""

    sqlstate = "23505"


def refuse_stored(tx: Tx, recs: Sequence[Rec]) -> None:
    """StoredBefore if any of `recs` (about to be copied in) has its id stored already."""
    if recs and tx.query(_PG_STORED_IDS, {"i": A.uuids([r.id for r in recs]),
                                          "s": A.timestamptz([r.started_at for r in recs])}):
        raise StoredBefore


def insert_and_load(tx: Tx, recs: Sequence[Rec], host_id: int, now: datetime, checks: list[str],
                    faults: list[str], stored_upto: Optional[int] = None,
                    ) -> tuple[set[uuid.UUID], state_rows.States, set[str]]:
    """(ids stored now, the states of `checks`, which of `faults` have an active ticket).
    `stored_upto`: the host's highest seq stored before this batch, when known (see the module's doc)."""
    if tx.pg:
        if stored_upto is not None and not tx.careful and all_after(recs, stored_upto):
            return _pg_copy(tx, recs, host_id, now, checks, faults)
        return _pg(tx, recs, host_id, now, checks, faults)
    new = _sqlite(tx.raw, recs, host_id, now) if recs else set()
    states, found = state_rows.load_sqlite(tx, host_id, checks, faults)
    return new, states, found


def _pg(tx: Tx, recs: Sequence[Rec], host_id: int, now: datetime, checks: list[str],
        faults: list[str]) -> tuple[set[uuid.UUID], state_rows.States, set[str]]:
    params = {"host": host_id, "now": now, "checks": A.text(checks), "faults": A.text(faults),
              "s": A.timestamptz([r.started_at for r in recs]), "i": A.uuids([r.id for r in recs]),
              "c": A.text([r.check for r in recs]), "t": A.text([r.type for r in recs]),
              "y": A.text([r.system for r in recs]), "st": A.int2([int(r.status) for r in recs]),
              "su": A.text([r.summary for r in recs]), "du": A.float8([r.duration for r in recs]),
              "m": A.text([r.metrics_json for r in recs]), "de": A.text([r.details_json for r in recs]),
              "sq": A.int8([r.seq for r in recs])}
    rows = tx.query(_PG_SQL, params)
    new = {row[8] for row in rows if row[8] is not None}
    states, found = state_rows.from_rows(host_id, [row for row in rows if row[8] is None])
    return new, states, found


def all_after(recs: Sequence[Rec], seq: int) -> bool:
    for r in recs:
        if r.seq is None or r.seq <= seq:
            return False
    return True


def _pg_copy(tx: Tx, recs: Sequence[Rec], host_id: int, now: datetime, checks: list[str],
             faults: list[str]) -> tuple[set[uuid.UUID], state_rows.States, set[str]]:
    rows = tx.query(state_rows.PG_STATES_SQL, {"host": host_id, "checks": A.text(checks), "faults": A.text(faults)})
    refuse_stored(tx, recs)
    copy_in(tx, copy_rows(recs, host_id, now))
    states, found = state_rows.from_rows(host_id, rows)
    return {r.id for r in recs}, states, found


_PG_COPY = f"COPY results ({_COLS}) FROM STDIN (FORMAT BINARY)"
# Binary COPY (src/backend/commands/copyfromparse.c): a signature, flags and header-extension length; then
# per row its field count and, per field, a length (-1: NULL) and the value in its binary send format
# (json: the text itself); a field count of -1 ends the data. Fields in _COLS order.
_COPY_HEAD = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_END = b"\xff\xff"
_ROW_START = struct.Struct(">hiqi")  # 13 fields; started_at (8 bytes); the id's length (16), then its bytes
_INT2 = struct.Struct(">ih")
_INT4 = struct.Struct(">ii")
_INT8 = struct.Struct(">iq")
_FLOAT8 = struct.Struct(">id")
_LEN = struct.Struct(">i")
_NULL = _LEN.pack(-1)


def copy_rows(recs: Sequence[Rec], host_id: int, now: datetime) -> bytes:
    """The batch as one binary COPY payload."""
    return copy_many([(recs, host_id, now)])


def copy_many(batches: Sequence[tuple[Sequence[Rec], int, datetime]]) -> bytes:
    """Several batches (records, host id, time received) as one binary COPY payload."""
    offsets: dict[Any, int] = {}
    names: dict[str, bytes] = {}  # check, type and system repeat within a batch: encoded once
    out = [_COPY_HEAD]
    add = out.append
    for recs, host_id, now in batches:
        host = _INT4.pack(4, host_id)
        received = _INT8.pack(8, A.micros(now, offsets))
        for r in recs:
            add(_ROW_START.pack(13, 8, A.micros(r.started_at, offsets), 16))
            add(r.id.bytes)
            add(host)
            for name in (r.check, r.type, r.system):
                field = names.get(name)
                if field is None:
                    b = name.encode()
                    field = names[name] = _LEN.pack(len(b)) + b
                add(field)
            add(_INT2.pack(2, int(r.status)))
            b = r.summary.encode()
            add(_LEN.pack(len(b)))
            add(b)
            add(_FLOAT8.pack(8, r.duration))
            for text in (r.metrics_json, r.details_json):
                b = text.encode()
                add(_LEN.pack(len(b)))
                add(b)
            add(_NULL if r.seq is None else _INT8.pack(8, r.seq))
            add(received)
    add(_COPY_END)
    return b"".join(out)


def copy_in(tx: Tx, payload: bytes) -> None:
    """Rows from a binary COPY payload (copy_rows, copy_many) into `results`."""
    cur = tx.raw.cursor()
    try:
        with cur.copy(_PG_COPY) as copy:
            copy.write(payload)
    finally:
        cur.close()


def _sqlite(raw: Any, recs: Sequence[Rec], host_id: int, now: datetime) -> set[uuid.UUID]:
    received = sqlite_time(now)
    new: set[uuid.UUID] = set()
    cur = raw.cursor()
    try:
        for start in range(0, len(recs), _SQLITE_ROWS):
            chunk = recs[start:start + _SQLITE_ROWS]
            params: list[Any] = []
            for r in chunk:
                params += (sqlite_time(r.started_at), r.id.hex, host_id, r.check, r.type, r.system, int(r.status),
                           r.summary, r.duration, r.metrics_json, r.details_json, r.seq, received)
            values = ",".join(["(?,?,?,?,?,?,?,?,?,?,?,?,?)"] * len(chunk))
            cur.execute(f"INSERT INTO results ({_COLS}) VALUES {values} "
                        "ON CONFLICT DO NOTHING RETURNING id", params)  # (started_at, id) or id alone
            new.update(uuid.UUID(hex=row[0]) for row in cur.fetchall())
    finally:
        cur.close()
    return new
