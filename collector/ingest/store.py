"""Idempotent insert of a batch of records: one statement per batch, returning the ids that were new.

PostgreSQL: `INSERT … SELECT … FROM unnest(arrays) ON CONFLICT (started_at, id) DO NOTHING RETURNING id`
— the whole batch travels as eleven arrays in binary format in one round trip (no per-row statement,
no staging table; psycopg dumps text-format arrays in Python with a regex per element, six times slower
than binary here, and COPY into a staging table needs three round trips).
SQLite: one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING id` on the driver
connection, in the storage formats SQLAlchemy itself uses (naive UTC text times, 32-hex UUIDs, JSON text).
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy.orm import Session

from collector.ingest.records import Rec

_COLS = ('started_at, id, host_id, "check", type, system, status, summary, duration, metrics, details, seq, '
         'received_at')
_PG_SQL = (f"INSERT INTO results ({_COLS}) "
           "SELECT s, i, %s, c, t, y, st, su, du, m::jsonb, de::jsonb, sq, %s FROM unnest("
           "%b::timestamptz[], %b::uuid[], %b::text[], %b::text[], %b::text[], %b::int2[], %b::text[], "
           "%b::float8[], %b::text[], %b::text[], %b::int8[]) AS u(s, i, c, t, y, st, su, du, m, de, sq) "
           "ON CONFLICT (started_at, id) DO NOTHING RETURNING id")
_SQLITE_ROWS = 2000  # 13 parameters a row, well under SQLite's 32766


def unique(recs: Sequence[Rec]) -> list[Rec]:
    """Drop repeats of the same (started_at, id) inside one batch: stored once, counted as duplicates."""
    seen: set[tuple[datetime, uuid.UUID]] = set()
    out = []
    for r in recs:
        key = (r.started_at, r.id)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def insert_new(db: Session, recs: Sequence[Rec], host_id: int, now: datetime) -> set[uuid.UUID]:
    if not recs:
        return set()
    conn = db.connection()
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        return _pg(raw, recs, host_id, now)
    return _sqlite(raw, recs, host_id, now)


def _pg(raw: Any, recs: Sequence[Rec], host_id: int, now: datetime) -> set[uuid.UUID]:
    dumps = orjson.dumps
    params = (host_id, now, [r.started_at for r in recs], [r.id for r in recs], [r.check for r in recs],
              [r.type for r in recs], [r.system for r in recs], [int(r.status) for r in recs],
              [r.summary for r in recs], [r.duration for r in recs],
              [dumps(r.metrics).decode() for r in recs], [dumps(r.details).decode() for r in recs],
              [r.seq for r in recs])
    with raw.cursor() as cur:
        cur.execute(_PG_SQL, params)
        return {row[0] for row in cur.fetchall()}


def _sqlite_time(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite(raw: Any, recs: Sequence[Rec], host_id: int, now: datetime) -> set[uuid.UUID]:
    dumps = orjson.dumps
    received = _sqlite_time(now)
    new: set[uuid.UUID] = set()
    cur = raw.cursor()
    try:
        for start in range(0, len(recs), _SQLITE_ROWS):
            chunk = recs[start:start + _SQLITE_ROWS]
            params: list[Any] = []
            for r in chunk:
                params += (_sqlite_time(r.started_at), r.id.hex, host_id, r.check, r.type, r.system, int(r.status),
                           r.summary, r.duration, dumps(r.metrics).decode(), dumps(r.details).decode(), r.seq,
                           received)
            values = ",".join(["(?,?,?,?,?,?,?,?,?,?,?,?,?)"] * len(chunk))
            cur.execute(f"INSERT INTO results ({_COLS}) VALUES {values} "
                        "ON CONFLICT (started_at, id) DO NOTHING RETURNING id", params)
            new.update(uuid.UUID(hex=row[0]) for row in cur.fetchall())
    finally:
        cur.close()
    return new
