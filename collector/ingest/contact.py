"""The statement that opens every ingest write: it records the agent's contact (what
hosts.record_contact does), re-checks the token and row-locks the host, so that two batches of one agent
never interleave their check-state updates across processes. On PostgreSQL it also returns the host's
`last_seq` as it was before the batch (collector.ingest.store uses it to take COPY).

The texts are fixed (prepared once per connection); a NULL parameter leaves its column as it was.
On PostgreSQL the rows are locked first (FOR UPDATE waits for a concurrent batch of the same agent and then
reads its committed row), so the statement can return last_seq from before this batch.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Optional

from collector import pgarrays as A
from collector.ingest.records import Rec
from collector.ingest.tx import sqlite_time
from collector.results.wire import clean_text

SQLITE = (
    "UPDATE hosts SET last_seen_at = :now, agent_version = COALESCE(:version, agent_version), "
    "heartbeat_seconds = COALESCE(:hb, heartbeat_seconds), dropped_total = COALESCE(:dropped, dropped_total), "
    "rejected_total = COALESCE(:rejected, rejected_total), "
    "config_version = COALESCE(:cfg, config_version), "
    "config_refused_version = COALESCE(:refused, config_refused_version), "
    "config_refused_error = COALESCE(:refused_error, config_refused_error), "
    "last_seq = CASE WHEN :seq IS NULL OR last_seq >= :seq THEN last_seq ELSE :seq END "
    "WHERE id = :id AND token_hash = :digest AND online")
# One host or several (distinct ids) in one statement: every host named is locked, in id order — as
# groups written one batch at a time lock them — whether or not its token still matches; the contact is
# recorded where it does. Returns (host, last_seq before) of those.
PG = (
    "WITH locked AS MATERIALIZED (SELECT id, token_hash, online, last_seq FROM hosts "
    "WHERE id = ANY(%(id)b::int4[]) ORDER BY id FOR UPDATE), "
    "b AS (SELECT * FROM unnest(%(id)b::int4[], %(digest)b::text[], %(now)b::timestamptz[], %(version)b::text[], "
    "%(hb)b::float8[], %(dropped)b::int8[], %(rejected)b::int8[], %(seq)b::int8[], %(cfg)b::text[], "
    "%(refused)b::text[], %(refused_error)b::text[]) "
    "AS b(id, digest, now, version, hb, dropped, rejected, seq, cfg, refused, refused_error)), "
    "old AS (SELECT locked.id AS host, locked.last_seq AS before, b.now, b.version, b.hb, b.dropped, b.rejected, "
    "b.seq, b.cfg, b.refused, b.refused_error "
    "FROM locked JOIN b ON b.id = locked.id AND b.digest = locked.token_hash WHERE locked.online) "
    "UPDATE hosts SET last_seen_at = old.now, agent_version = COALESCE(old.version, agent_version), "
    "heartbeat_seconds = COALESCE(old.hb, heartbeat_seconds), dropped_total = COALESCE(old.dropped, dropped_total), "
    "rejected_total = COALESCE(old.rejected, rejected_total), config_version = COALESCE(old.cfg, config_version), "
    "config_refused_version = COALESCE(old.refused, config_refused_version), "
    "config_refused_error = COALESCE(old.refused_error, config_refused_error), "
    "last_seq = CASE WHEN old.seq IS NULL OR hosts.last_seq >= old.seq THEN hosts.last_seq ELSE old.seq END "
    "FROM old WHERE hosts.id = old.host RETURNING old.host, old.before")


class Contact(NamedTuple):
    """What one batch tells about its agent; None leaves the stored value."""

    id: int
    digest: str
    now: datetime
    version: Optional[str]
    heartbeat: Optional[float]
    dropped: Optional[int]
    rejected: Optional[int]  # results the agent quarantined in all
    seq: Optional[int]  # the batch's highest spool seq
    config: Optional[str] = None  # central config version it runs ("" clears)
    refused: Optional[str] = None  # last central version it refused ("" clears)
    refused_error: Optional[str] = None


def config_report(agent: dict[str, Any]) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(config version, refused version, refused error) from the agent block: None where the agent said
    nothing (an older agent), "" where it said null; a value that does not fit is ignored."""
    cfg: Optional[str] = None
    if "config_version" in agent:
        v = agent["config_version"]
        cfg = "" if v is None else clean_text(v) if isinstance(v, str) and len(v) <= 64 else None
    refused: Optional[str] = None
    error: Optional[str] = None
    if "config_refused" in agent:
        r = agent["config_refused"]
        if r is None:
            refused, error = "", ""
        elif isinstance(r, dict) and isinstance(r.get("version"), str) and len(r["version"]) <= 64:
            e = r.get("error", "")
            refused, error = clean_text(r["version"]), clean_text(e[:1024] if isinstance(e, str) else "")
    return cfg, refused, error


def of_batch(host_id: int, digest: str, agent: dict[str, Any], recs: Sequence[Rec], now: datetime) -> Contact:
    version = agent.get("version")
    hb = agent.get("heartbeat")
    dropped = agent.get("dropped_total")
    rejected = agent.get("rejected_total")
    seqs = [r.seq for r in recs if r.seq is not None]
    cfg, refused, refused_error = config_report(agent)
    return Contact(host_id, digest, now, version[:32] if isinstance(version, str) else None,
                   float(hb) if isinstance(hb, (int, float)) and 1 <= hb <= 86400 else None,
                   dropped if isinstance(dropped, int) and dropped >= 0 else None,
                   rejected if isinstance(rejected, int) and 0 <= rejected < 2**63 else None,
                   max(seqs) if seqs else None, cfg, refused, refused_error)


def sqlite(c: Contact) -> tuple[str, dict[str, Any]]:
    """SQLite: the statement and parameters for one batch (its rowcount says whether the token matched)."""
    return SQLITE, {"now": sqlite_time(c.now), "id": c.id, "digest": c.digest, "version": c.version,
                        "hb": c.heartbeat, "dropped": c.dropped, "rejected": c.rejected, "seq": c.seq,
                    "cfg": c.config, "refused": c.refused, "refused_error": c.refused_error}


def pg(contacts: Sequence[Contact]) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: the statement and parameters for batches of distinct hosts (one or more)."""
    return PG, {"id": A.int4([c.id for c in contacts]), "digest": A.text([c.digest for c in contacts]),
                "now": A.timestamptz([c.now for c in contacts]),
                "version": A.text([c.version for c in contacts]),
                "hb": A.float8([c.heartbeat for c in contacts]),
                "dropped": A.int8([c.dropped for c in contacts]),
                "rejected": A.int8([c.rejected for c in contacts]), "seq": A.int8([c.seq for c in contacts]),
                "cfg": A.text([c.config for c in contacts]), "refused": A.text([c.refused for c in contacts]),
                "refused_error": A.text([c.refused_error for c in contacts])}
