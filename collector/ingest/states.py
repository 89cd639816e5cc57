"""Check states read and written for a whole batch on the driver connection (no ORM on the hot path).

Times, UUIDs and JSON are written in the storage formats SQLAlchemy uses (see collector.ingest.store),
so the ORM models read these rows as usual.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy.orm import Session

from collector.ingest.store import _sqlite_time

_COLS = ("host_id", "check", "type", "system", "status", "summary", "metrics", "last_result_id", "last_started_at",
         "consecutive_bad", "consecutive_ok", "status_changes", "since")
_SET = ", ".join(f'"{c}" = excluded."{c}"' for c in _COLS[2:])
_INSERT = f'INSERT INTO check_states ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in _COLS)}) VALUES '
_ON_CONFLICT = f' ON CONFLICT (host_id, "check") DO UPDATE SET {_SET}'


def _driver(db: Session) -> tuple[bool, Any]:
    conn = db.connection()
    return conn.dialect.name == "postgresql", conn.connection.driver_connection


def _utc(text: Any) -> datetime:
    if isinstance(text, datetime):
        return text.astimezone(timezone.utc) if text.tzinfo else text.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def load(db: Session, host_id: int, checks: list[str],
         faults: list[str]) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """The fields of each check's state that the rules carry forward (the rest is rewritten when it
    moves), and which of `faults` have an active ticket — one round trip for both."""
    pg, raw = _driver(db)
    p = "%s" if pg else "?"
    sql = (f'SELECT "check", status, last_started_at, consecutive_bad, consecutive_ok, status_changes, since, '
           f'NULL AS fault FROM check_states WHERE host_id = {p} AND "check" IN ({", ".join([p] * len(checks))}) '
           f"UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, active_fault_key FROM tickets "
           f"WHERE active_fault_key IN ({', '.join([p] * len(faults))})")
    cur = raw.cursor()
    try:
        cur.execute(sql, [host_id, *checks, *faults])
        rows = cur.fetchall()
    finally:
        cur.close()
    states = {c: {"host_id": host_id, "check": c, "status": st, "last_started_at": _utc(last),
                  "consecutive_bad": bad, "consecutive_ok": ok, "status_changes": changes, "since": _utc(since)}
              for c, st, last, bad, ok, changes, since, fault in rows if fault is None}
    return states, {fault for *_, fault in rows if fault is not None}


def save(db: Session, states: list[dict[str, Any]]) -> None:
    """One upsert for every changed state of the batch."""
    pg, raw = _driver(db)
    params: list[Any] = []
    for s in states:
        rid: uuid.UUID = s["last_result_id"]
        params += (s["host_id"], s["check"], s["type"], s["system"], s["status"], s["summary"],
                   orjson.dumps(s["metrics"]).decode(), rid if pg else rid.hex,
                   s["last_started_at"] if pg else _sqlite_time(s["last_started_at"]), s["consecutive_bad"],
                   s["consecutive_ok"], s["status_changes"], s["since"] if pg else _sqlite_time(s["since"]))
    row = ("(%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s)" if pg
           else "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    cur = raw.cursor()
    try:
        cur.execute(_INSERT + ", ".join([row] * len(states)) + _ON_CONFLICT, params)
    finally:
        cur.close()
