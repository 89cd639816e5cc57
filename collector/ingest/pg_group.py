"""A group of batches on PostgreSQL written step by step for all of them at once, not batch after batch.

The common batch (its host's token valid, the host online, every result new by seq, the first batch of
its host in the group) shares the group's statements: one contact statement for the group's hosts, one
read of their states and active faults, one COPY of every row, the rules per batch in Python, one upsert
of every changed state. Any other batch is written on its own inside the same transaction. Errors are
the group writer's business (collector.ingest.writer).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from collector.ingest import contact
from collector.ingest import states as state_rows
from collector.ingest.batch import BatchWrite, IngestReply
from collector.ingest.evaluate import evaluate, fault_keys
from collector.ingest.store import all_after, copy_in, copy_many, refuse_stored, unique
from collector.ingest.tx import Tx


def write_group(conn: sa.Connection, works: Sequence[BatchWrite]) -> list[IngestReply]:
    """Each batch's reply, in the order of `works`, all in `conn`'s transaction."""
    if conn.dialect.name != "postgresql" or len(works) < 2:
        return [w(Tx(conn)) for w in works]
    tx = Tx(conn)
    firsts: list[BatchWrite] = []
    again: list[BatchWrite] = []  # a second batch of a host: after the first, on its own
    seen: set[int] = set()
    for w in works:
        (again if w.info.id in seen else firsts).append(w)
        seen.add(w.info.id)
    sql, params = contact.pg([contact.of_batch(w.info.id, w.digest, w.agent, w.recs, w.now) for w in firsts])
    before: dict[int, int] = {host: last or 0 for host, last in tx.query(sql, params)}
    common = [w for w in firsts if w.info.id in before and w.recs and all_after(w.recs, before[w.info.id])]
    out: dict[int, IngestReply] = _write_common(conn, tx, common) if len(common) > 1 else {}
    for w in firsts:
        if id(w) not in out:
            wtx = Tx(conn)
            try:
                out[id(w)] = w.after_contact(wtx, w.info.id in before, before.get(w.info.id))
            finally:
                wtx.close()
    for w in again:
        out[id(w)] = w(Tx(conn))
    return [out[id(w)] for w in works]


def _write_common(conn: sa.Connection, tx: Tx, works: list[BatchWrite]) -> dict[int, IngestReply]:
    batches = []
    checks: set[str] = set()
    faults: list[str] = []
    for w in works:
        uniq = unique(w.recs)
        keys = fault_keys(w.info.name, uniq)
        batches.append((w, uniq, keys))
        checks.update(keys)
        faults.extend(keys.values())
    states, found = state_rows.load_many(tx, [w.info.id for w in works], sorted(checks), faults)
    refuse_stored(tx, [r for _, uniq, _ in batches for r in uniq])
    copy_in(tx, copy_many([(uniq, w.info.id, w.now) for w, uniq, _ in batches]))
    out: dict[int, IngestReply] = {}
    changed: list[dict[str, Any]] = []
    for w, uniq, keys in batches:
        wtx = Tx(conn)
        try:
            suppressed = evaluate(tx=wtx, host=w.info, fresh=uniq, faults=keys, states=states.get(w.info.id, {}),
                                  found=found.intersection(keys.values()), now=w.now, settings=w.settings,
                                  save_later=changed)
            wtx.flush()  # its tickets (ORM) before the states
        finally:
            wtx.close()
        reply = IngestReply(accepted=len(uniq), duplicates=len(w.recs) - len(uniq), suppressed=suppressed)
        out[id(w)] = reply
    if changed:
        state_rows.save(tx, changed)
    return out
