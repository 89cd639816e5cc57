"""Check states read and written for a whole batch on the driver connection (no ORM on the hot path).

Times, UUIDs and JSON are written in the storage formats SQLAlchemy uses (see collector.ingest.store),
so the ORM models read these rows as usual. On PostgreSQL every statement's text is fixed (lists travel
as arrays), so psycopg prepares each once per connection.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from collector import pgarrays as A
from collector.ingest.tx import Tx, sqlite_time

States = dict[str, dict[str, Any]]

_COLS = ("host_id", "check", "type", "system", "status", "summary", "metrics", "last_result_id", "last_started_at",
         "consecutive_bad", "consecutive_ok", "status_changes", "since")
_SET = ", ".join(f'"{c}" = excluded."{c}"' for c in _COLS[2:])
_NAMES = ", ".join(f'"{c}"' for c in _COLS)
_ON_CONFLICT = f' ON CONFLICT (host_id, "check") DO UPDATE SET {_SET}'

# the fields the rules carry forward, then the active faults, in one result (a ninth column left for
# collector.ingest.store, which appends the new result ids)
PG_STATES_SQL = (
    'SELECT "check", status, last_started_at, consecutive_bad, consecutive_ok, status_changes, since, '
    "NULL::text AS fault, NULL::uuid AS new_id FROM check_states "
    'WHERE host_id = %(host)s AND "check" = ANY(%(checks)b::text[]) '
    "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, active_fault_key, NULL FROM tickets "
    "WHERE active_fault_key = ANY(%(faults)b::text[])")
# the same for the batches of several hosts: every state of the named checks of the named hosts (a host's
# rows of a check only another host of the group sent are read too, and ignored)
PG_STATES_MANY_SQL = (
    'SELECT "check", status, last_started_at, consecutive_bad, consecutive_ok, status_changes, since, '
    "NULL::text AS fault, host_id FROM check_states "
    'WHERE host_id = ANY(%(hosts)b::int4[]) AND "check" = ANY(%(checks)b::text[]) '
    "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, active_fault_key, NULL FROM tickets "
    "WHERE active_fault_key = ANY(%(faults)b::text[])")
_PG_SAVE = (f"INSERT INTO check_states ({_NAMES}) SELECT h, c, t, y, st, su, m::jsonb, r, l, b, o, n, s FROM unnest("
            "%b::int4[], %b::text[], %b::text[], %b::text[], %b::int2[], %b::text[], %b::text[], %b::uuid[], "
            f"%b::timestamptz[], %b::int4[], %b::int4[], %b::int4[], %b::timestamptz[]) AS u(h, c, t, y, st, su, m, r, "
            f"l, b, o, n, s){_ON_CONFLICT}")
_PACKERS = (A.int4, A.text, A.text, A.text, A.int2, A.text, A.text, A.uuids, A.timestamptz, A.int4, A.int4, A.int4,
            A.timestamptz)
_SQLITE_INSERT = f"INSERT INTO check_states ({_NAMES}) VALUES "


def _utc(text: Any) -> datetime:
    if isinstance(text, datetime):
        return text.astimezone(timezone.utc) if text.tzinfo else text.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def from_rows(host_id: int, rows: list[Any]) -> tuple[States, set[str]]:
    states = {c: {"host_id": host_id, "check": c, "status": st, "last_started_at": _utc(last),
                  "consecutive_bad": bad, "consecutive_ok": ok, "status_changes": changes, "since": _utc(since)}
              for c, st, last, bad, ok, changes, since, fault, *_ in rows if fault is None}
    return states, {row[7] for row in rows if row[7] is not None}


def load_many(tx: Tx, host_ids: list[int], checks: list[str], faults: list[str]) -> tuple[dict[int, States], set[str]]:
    """PostgreSQL: the states of `checks` of each of `host_ids`, and which of `faults` have an active ticket."""
    rows = tx.query(PG_STATES_MANY_SQL, {"hosts": A.int4(host_ids), "checks": A.text(checks), "faults": A.text(faults)})
    by_host: dict[int, list[Any]] = {}
    found: set[str] = set()
    for row in rows:
        if row[7] is not None:
            found.add(row[7])
        else:
            by_host.setdefault(row[8], []).append(row)
    return {host: from_rows(host, host_rows)[0] for host, host_rows in by_host.items()}, found


def load_sqlite(tx: Tx, host_id: int, checks: list[str], faults: list[str]) -> tuple[States, set[str]]:
    """The states of `checks` and which of `faults` have an active ticket — one round trip for both
    (on PostgreSQL, PG_STATES_SQL rides along with the insert: collector.ingest.store)."""
    sql = ('SELECT "check", status, last_started_at, consecutive_bad, consecutive_ok, status_changes, since, '
           f'NULL AS fault FROM check_states WHERE host_id = ? AND "check" IN ({", ".join("?" * len(checks))}) '
           "UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, active_fault_key FROM tickets "
           f"WHERE active_fault_key IN ({', '.join('?' * len(faults))})")
    return from_rows(host_id, tx.query(sql, [host_id, *checks, *faults]))


def save(tx: Tx, states: list[dict[str, Any]]) -> None:
    """One upsert for every changed state of the batch."""
    if tx.pg:
        tx.execute(_PG_SAVE, [pack([s[c] for s in states]) for c, pack in zip(_COLS, _PACKERS)])
        return
    params: list[Any] = []
    for s in states:
        rid: uuid.UUID = s["last_result_id"]
        params += (s["host_id"], s["check"], s["type"], s["system"], s["status"], s["summary"], s["metrics"],
                   rid.hex, sqlite_time(s["last_started_at"]), s["consecutive_bad"], s["consecutive_ok"],
                   s["status_changes"], sqlite_time(s["since"]))
    tx.execute(_SQLITE_INSERT + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(states)) + _ON_CONFLICT,
               params)
