"""Work that crosses domains, in one place: ingest → store → rules → tickets.

The hot path lives in collector.ingest (records, store, evaluate, pipeline); this module joins its parts
for one batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from collector.config import Settings
from collector.hosts import service as hosts
from collector.hosts.models import Host
from collector.ingest.evaluate import TicketChanges, auto_fields, evaluate, fault_keys, rule_config
from collector.ingest.records import Rec
from collector.ingest.store import insert_and_load, unique
from collector.ingest.tx import Tx

__all__ = ["IngestReply", "TicketChanges", "auto_fields", "ingest_records", "rule_config", "store"]


@dataclass
class IngestReply:
    accepted: int
    duplicates: int
    suppressed: int = 0  # bad results inside a maintenance window: kept, no ticket

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": []}


def ingest_records(*, tx: Tx, host: Host, agent: dict[str, Any], recs: list[Rec], now: datetime,
                   settings: Settings) -> tuple[IngestReply, TicketChanges]:
    """The slow path of a batch: the ORM host's contact (its return after being offline resolves the
    offline ticket), then the records as usual."""
    db = tx.db
    back_online = hosts.record_contact(db=db, host=host, at=now, agent=agent)
    changes = TicketChanges([], [])
    if back_online:
        from collector.jobs.offline import agent_back  # local import: the job module imports flows' peers

        agent_back(db=db, host=host, now=now, settings=settings, changes=changes)
    db.flush()  # the host row first: the driver statements below run on the same transaction
    reply, fresh = store(tx=tx, host=host, recs=recs, now=now, settings=settings, changes=changes)
    seqs = [r.seq for r in fresh if r.seq is not None]
    if seqs:
        host.last_seq = max(max(seqs), host.last_seq or 0)
    return reply, changes


def store(*, tx: Tx, host: Any, recs: list[Rec], now: datetime, settings: Settings,
          changes: TicketChanges, stored_upto: Optional[int] = None) -> tuple[IngestReply, list[Rec]]:
    """Insert the records idempotently and run the rules on the new ones; (reply, new records).
    `stored_upto`: the host's highest seq stored before this batch, when the caller read it under the
    host's row lock (it lets a batch of new results take the fast insert)."""
    if not recs:
        return IngestReply(accepted=0, duplicates=0), []
    uniq = unique(recs)
    faults = fault_keys(host.name, uniq)
    new_ids, states, found = insert_and_load(tx, uniq, host.id, now, list(faults), list(faults.values()),
                                             stored_upto)
    fresh = [r for r in uniq if r.id in new_ids]
    suppressed = evaluate(tx=tx, host=host, fresh=fresh, faults=faults, states=states, found=found, now=now,
                          settings=settings, changes=changes)
    return IngestReply(accepted=len(fresh), duplicates=len(recs) - len(fresh), suppressed=suppressed), fresh
