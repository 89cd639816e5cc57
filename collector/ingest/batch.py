"""One validated batch's write inside a write transaction: the host's contact, the records stored
idempotently, the rules run on the new ones (collector.ingest.evaluate)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from collector.config import Settings
from collector.flows import Flow
from collector.hosts import service as hosts
from collector.hosts.models import Host
from collector.ingest import contact
from collector.ingest.auth import HostInfo
from collector.ingest.evaluate import evaluate, fault_keys
from collector.ingest.records import Rec
from collector.ingest.store import insert_and_load, unique
from collector.ingest.tx import Tx


@dataclass
class IngestReply:
    accepted: int
    duplicates: int
    suppressed: int = 0  # bad results inside a maintenance window: kept, no ticket

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": []}


def ingest_records(*, tx: Tx, host: Host, agent: dict[str, Any], recs: list[Rec], now: datetime,
                   settings: Settings) -> IngestReply:
    """The slow path of a batch: the ORM host's contact (its return after being offline resolves the
    offline ticket), then the records as usual."""
    db = tx.db
    back_online = hosts.record_contact(host=host, at=now, agent=agent, config=contact.config_report(agent))
    if back_online:
        Flow(db=db, settings=settings, now=now).agent_back(host)
    db.flush()  # the host row first: the driver statements below run on the same transaction
    reply, fresh = store_records(tx=tx, host=host, recs=recs, now=now, settings=settings)
    seqs = [r.seq for r in fresh if r.seq is not None]
    if seqs:
        host.last_seq = max(max(seqs), host.last_seq or 0)
    return reply


def store_records(*, tx: Tx, host: Any, recs: list[Rec], now: datetime, settings: Settings,
                  stored_upto: Optional[int] = None) -> tuple[IngestReply, list[Rec]]:
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
                          settings=settings)
    return IngestReply(accepted=len(fresh), duplicates=len(recs) - len(fresh), suppressed=suppressed), fresh


class TokenGone(Exception):
    """The cached token no longer opens its host (rotated or host deleted)."""


class BatchWrite:
    """One validated batch's write inside a write transaction (perhaps shared with other batches of this
    process): the contact first, then the records (`after_contact`). A group of them on PostgreSQL is
    written step by step for all at once (collector.ingest.pg_group)."""

    __slots__ = ("agent", "digest", "info", "now", "recs", "settings", "token")

    def __init__(self, settings: Settings, info: HostInfo, digest: str, token: str, agent: dict[str, Any],
                 recs: list[Rec], now: datetime) -> None:
        self.settings = settings
        self.info = info
        self.digest = digest
        self.token = token
        self.agent = agent
        self.recs = recs
        self.now = now

    def __call__(self, tx: Tx) -> IngestReply:
        try:
            seen = contact.of_batch(self.info.id, self.digest, self.agent, self.recs, self.now)
            if tx.pg:  # PostgreSQL also returns the host's last_seq from before this batch
                rows = tx.query(*contact.pg([seen]))
                known, stored_upto = bool(rows), (rows[0][1] or 0) if rows else None
            else:
                known, stored_upto = tx.execute(*contact.sqlite(seen)) == 1, None
            return self.after_contact(tx, known, stored_upto)
        finally:
            tx.close()

    def after_contact(self, tx: Tx, known: bool, stored_upto: Optional[int],
                      ) -> IngestReply:
        """The records, once the contact statement said whether the token still opens an online host
        (`known`) and, on PostgreSQL, the host's highest seq stored before (`stored_upto`)."""
        if known:
            reply, _ = store_records(tx=tx, host=self.info, recs=self.recs, now=self.now, settings=self.settings,
                                     stored_upto=stored_upto)
        else:  # token rotated, host gone, or host offline (its return resolves the offline ticket)
            host = hosts.authenticate(db=tx.db, token=self.token)
            if host is None:
                raise TokenGone
            reply = ingest_records(tx=tx, host=host, agent=self.agent, recs=self.recs, now=self.now,
                                                  settings=self.settings)
        tx.flush()
        return reply
