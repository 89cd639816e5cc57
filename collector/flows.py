"""Work that crosses domains, in one place: ingest → store → rules → tickets.

The hot path lives in collector.ingest (records, store, evaluate, pipeline); this module keeps the
entry point for callers that hold validated checks.model.Result objects and an ORM Host.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from checks.model import Result
from collector.config import Settings
from collector.hosts import service as hosts
from collector.hosts.models import Host
from collector.ingest.evaluate import TicketChanges, auto_fields, evaluate, rule_config
from collector.ingest.records import Rec
from collector.ingest.store import insert_new, unique

__all__ = ["IngestReply", "TicketChanges", "auto_fields", "ingest", "ingest_records", "rule_config", "store"]


@dataclass
class IngestReply:
    accepted: int
    duplicates: int
    suppressed: int = 0  # bad results inside a maintenance window: kept, no ticket

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": []}


def ingest(*, db: Session, host: Host, agent: dict[str, Any], batch: list[Result], now: datetime,
           settings: Settings) -> tuple[IngestReply, TicketChanges]:
    """Store a validated batch for `host` and evaluate the rules on the results not seen before."""
    return ingest_records(db=db, host=host, agent=agent, recs=[Rec.from_result(r) for r in batch], now=now,
                          settings=settings)


def ingest_records(*, db: Session, host: Host, agent: dict[str, Any], recs: list[Rec], now: datetime,
                   settings: Settings) -> tuple[IngestReply, TicketChanges]:
    back_online = hosts.record_contact(db=db, host=host, at=now, agent=agent)
    changes = TicketChanges([], [])
    if back_online:
        from collector.jobs.offline import agent_back  # local import: the job module imports flows' peers

        agent_back(db=db, host=host, now=now, settings=settings, changes=changes)
    reply, fresh = store(db=db, host=host, recs=recs, now=now, settings=settings, changes=changes)
    seqs = [r.seq for r in fresh if r.seq is not None]
    if seqs:
        host.last_seq = max(max(seqs), host.last_seq or 0)
    return reply, changes


def store(*, db: Session, host: Any, recs: list[Rec], now: datetime, settings: Settings,
          changes: TicketChanges) -> tuple[IngestReply, list[Rec]]:
    """Insert the records idempotently and run the rules on the new ones; (reply, new records)."""
    uniq = unique(recs)
    new_ids = insert_new(db, uniq, host.id, now)
    fresh = [r for r in uniq if r.id in new_ids]
    suppressed = evaluate(db=db, host=host, fresh=fresh, now=now, settings=settings, changes=changes)
    return IngestReply(accepted=len(fresh), duplicates=len(recs) - len(fresh), suppressed=suppressed), fresh
