"""Idempotent insert of a batch of records, and the check states the rules need, in as few statements as
the database allows.

PostgreSQL: one statement — `WITH ins AS (INSERT … SELECT … FROM unnest(arrays) ON CONFLICT (started_at,
id) DO NOTHING RETURNING id)` followed by the batch's check states, its active faults and the new ids as
one result. The whole batch travels as eleven arrays in binary format, packed by
collector.pgarrays, and the text never changes, so it is prepared once per connection. It runs
after the host row is locked (collector.ingest.pipeline), so its snapshot sees every earlier batch of
the same agent.
SQLite: one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING id` in the storage formats SQLAlchemy
itself uses (naive UTC text times, 32-hex UUIDs, JSON text), then the states (collector.ingest.states).
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from collector import pgarrays as A
from collector.ingest import states as state_rows
from collector.ingest.records import Rec
from collector.ingest.tx import Tx, sqlite_time

_COLS = ('started_at, id, host_id, "check", type, system, status, summary, duration, metrics, details, seq, '
         'received_at')
_PG_SQL = (
    f"WITH ins AS (INSERT INTO results ({_COLS}) "
    "SELECT s, i, %(host)s, c, t, y, st, su, du, m::jsonb, de::jsonb, sq, %(now)s FROM unnest("
    "%(s)b::timestamptz[], %(i)b::uuid[], %(c)b::text[], %(t)b::text[], %(y)b::text[], %(st)b::int2[], "
    "%(su)b::text[], %(du)b::float8[], %(m)b::text[], %(de)b::text[], %(sq)b::int8[]) "
    "AS u(s, i, c, t, y, st, su, du, m, de, sq) "
    "ON CONFLICT (started_at, id) DO NOTHING RETURNING id) "
    f"{state_rows.PG_STATES_SQL} UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, id FROM ins")
_SQLITE_ROWS = 2000  # 13 parameters a row, well under SQLite's 32766


def unique(recs: Sequence[Rec]) -> list[Rec]:
    """Drop repeats of the same (started_at, id) inside one batch: stored once, counted as duplicates."""
    seen: dict[uuid.UUID, datetime] = {}
    again: set[tuple[uuid.UUID, datetime]] = set()  # the same id at other times: rare, other rows
    out = []
    for r in recs:
        first = seen.setdefault(r.id, r.started_at)
        if first is r.started_at:
            out.append(r)
        elif first != r.started_at and (r.id, r.started_at) not in again:
            again.add((r.id, r.started_at))
            out.append(r)
    return out


def insert_and_load(tx: Tx, recs: Sequence[Rec], host_id: int, now: datetime, checks: list[str],
                    faults: list[str]) -> tuple[set[uuid.UUID], state_rows.States, set[str]]:
    """(ids stored now, the states of `checks`, which of `faults` have an active ticket)."""
    if tx.pg:
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
                        "ON CONFLICT (started_at, id) DO NOTHING RETURNING id", params)
            new.update(uuid.UUID(hex=row[0]) for row in cur.fetchall())
    finally:
        cur.close()
    return new
