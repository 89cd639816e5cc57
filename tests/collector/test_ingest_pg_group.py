"""A group of batches written step by step for all at once on PostgreSQL (collector.ingest.pg_group): the same
rows, states, contacts and tickets as batch after batch, with the uncommon batches (re-delivery, rotated
token, offline host, a host's second batch) written on their own in the same transaction.

Real PostgreSQL, real collector app and pipeline; groups are formed deterministically by calling the group
write inside one transaction, or by holding the writer busy while the batches queue.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi import HTTPException

from checks.model import Status
from collector.hosts import service as hosts
from collector.ingest import batch as batches
from collector.ingest import pg_group, pipeline, store
from collector.ingest.records import parse
from collector.ingest.writer import GroupWriter
from tests.collector.factories import batch, minutes_ago, result

pytestmark = pytest.mark.postgres


@pytest.fixture
def common(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the sets of batches written together (one COPY for all)."""
    sizes: list[int] = []
    real = pg_group._write_common

    def counted(conn: Any, tx: Any, works: list[Any]) -> Any:
        sizes.append(len(works))
        return real(conn, tx, works)
    monkeypatch.setattr(pg_group, "_write_common", counted)
    return sizes


def enroll(app: Any, *names: str) -> dict[str, str]:
    with app.state.sessionmaker() as db:
        tokens = {name: hosts.enroll(db=db, name=name)[1] for name in names}
        db.commit()
    return tokens


def prepare(app: Any, token: str, body: dict[str, Any]) -> batches.BatchWrite:
    return pipeline.prepare(state=app.state, settings=app.state.settings, token=token, body=orjson.dumps(body),
                            addr="test")


def post(app: Any, token: str, body: dict[str, Any]) -> Any:
    return pipeline.ingest(state=app.state, settings=app.state.settings, token=token, body=orjson.dumps(body),
                           addr="test")


def five(host: str, seq0: int, at0: float, bad: tuple[int, ...] = ()) -> dict[str, Any]:
    """Five checks' results; `bad` of them CRITICAL."""
    return batch(*[result(host, f"c{k}", status=Status.CRITICAL if k in bad else Status.OK,
                          critical_events=2 if k in bad else 0, at=minutes_ago(at0 - k / 100), seq=seq0 + k)
                   for k in range(5)], host=host, version="9.9")


def snapshot(app: Any, prefix: str) -> dict[str, Any]:
    """What a batch leaves behind, without ids and times of arrival."""
    with app.state.engine.connect() as c:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in c.execute(sa.text(sql), {"p": prefix + "%"})]
        return {
            "results": rows('SELECT h.name, r."check", r.status, r.summary, r.seq, r.metrics::text FROM results r '
                            "JOIN hosts h ON h.id = r.host_id WHERE h.name LIKE :p ORDER BY 1, 2, r.started_at"),
            "states": rows('SELECT h.name, s."check", s.status, s.consecutive_bad, s.consecutive_ok, '
                           "s.status_changes, s.summary FROM check_states s JOIN hosts h ON h.id = s.host_id "
                           "WHERE h.name LIKE :p ORDER BY 1, 2"),
            "hosts": rows("SELECT name, last_seq, agent_version, last_seen_at IS NOT NULL, online FROM hosts "
                          "WHERE name LIKE :p ORDER BY 1"),
            "tickets": rows('SELECT host, "check", status, occurrences FROM tickets WHERE host LIKE :p ORDER BY 1, 2'),
        }


def test_a_group_leaves_what_batch_after_batch_leaves(app: Any, common: list[int]) -> None:
    """Four agents, three rounds; the same batches once as groups, once one by one: the same rows, states,
    contacts and tickets (a CRITICAL opens a ticket, the next one adds an occurrence)."""
    tokens = enroll(app, *[f"g{side}{i}" for side in "ab" for i in range(4)])

    def body(side: str, i: int, j: int) -> dict[str, Any]:
        return five(f"g{side}{i}", 1 + 5 * j, 30 - j, bad=(0,) if (i, j) in ((1, 1), (1, 2), (2, 2)) else ())

    for j in range(3):
        works = [prepare(app, tokens[f"ga{i}"], body("a", i, j)) for i in range(4)]
        with app.state.engine.begin() as conn:
            replies = pg_group.write_group(conn, works)
        assert [(r.accepted, r.duplicates) for r in replies] == [(5, 0)] * 4
        opened = [("ga1", "c0", "open", j)] * (j >= 1) + [("ga2", "c0", "open", 1)] * (j >= 2)
        assert snapshot(app, "ga")["tickets"] == opened  # ga1's ticket in round 1, ga2's in round 2
        for i in range(4):
            post(app, tokens[f"gb{i}"], body("b", i, j))
    assert common == [4, 4, 4]
    a, b = snapshot(app, "ga"), snapshot(app, "gb")
    b = {k: [tuple(v.replace("gb", "ga") if isinstance(v, str) else v for v in row) for row in rows]
         for k, rows in b.items()}
    assert a == b
    assert [row[:2] + row[3:] for row in a["tickets"]] == [("ga1", "c0", 2), ("ga2", "c0", 1)]
    assert {row[1:3] for row in a["hosts"]} == {(15, "9.9")}
    assert len(a["results"]) == 4 * 15 and len(a["states"]) == 4 * 5


def test_uncommon_batches_in_a_group_are_written_on_their_own(app: Any, common: list[int]) -> None:
    tokens = enroll(app, "gu1", "gu2", "gu3", "gu4", "gu5", "gu6")
    old = five("gu2", 1, 40)
    assert post(app, tokens["gu2"], old).accepted == 5
    rotated = tokens["gu5"]
    post(app, rotated, five("gu5", 1, 40))
    with app.state.sessionmaker() as db:
        hosts.enroll(db=db, name="gu5")  # its token rotates while the old one is still cached
        db.execute(sa.text("UPDATE hosts SET online = false WHERE name = 'gu6'"))  # gu6 went offline
        db.commit()
    works = [
        prepare(app, tokens["gu1"], five("gu1", 1, 30)),
        prepare(app, tokens["gu2"], old),  # a re-delivery: nothing new
        prepare(app, tokens["gu3"], five("gu3", 1, 30)),
        prepare(app, tokens["gu1"], five("gu1", 6, 29)),  # gu1's second batch
        prepare(app, tokens["gu4"], batch(result("gu4", at=minutes_ago(30)), host="gu4")),  # no seq
        prepare(app, tokens["gu6"], five("gu6", 1, 30)),
    ]
    with app.state.engine.begin() as conn:
        replies = pg_group.write_group(conn, works)
    assert [(r.accepted, r.duplicates) for r in replies] == [(5, 0), (0, 5), (5, 0), (5, 0), (1, 0), (5, 0)]
    assert common == [2]  # gu1's first and gu3's
    snap = snapshot(app, "gu")
    assert [row[:2] for row in snap["hosts"]] == [("gu1", 10), ("gu2", 5), ("gu3", 5), ("gu4", None),
                                                  ("gu5", 5), ("gu6", 5)]
    assert all(row[4] for row in snap["hosts"])  # gu6 is back online
    with pytest.raises(batches.TokenGone):  # the group's transaction ends with the error
        with app.state.engine.begin() as conn:
            pg_group.write_group(conn, [prepare(app, tokens["gu3"], five("gu3", 6, 29)),
                                       prepare(app, rotated, five("gu5", 6, 29))])
    assert snapshot(app, "gu3")["hosts"][0][1] == 5  # rolled back with the group


def test_a_wrong_hint_in_a_group_costs_a_retry_and_loses_nothing(app: Any, common: list[int]) -> None:
    """gw2's batch carries a result it first sent without a seq: the group's COPY fails on the primary key,
    the group is rolled back and every batch is written again on its own; a rotated token fails only its
    own batch."""
    tokens = enroll(app, "gw1", "gw2", "gw3", "gw4")
    early = result("gw2", "voucher-log", at=minutes_ago(31))
    assert post(app, tokens["gw2"], batch(early, host="gw2")).accepted == 1
    again = dataclasses.replace(early, seq=7)
    post(app, tokens["gw4"], five("gw4", 1, 40))
    with app.state.sessionmaker() as db:
        hosts.enroll(db=db, name="gw4")  # rotated while the old token is still cached
        db.commit()
    bodies = {"gw1": five("gw1", 1, 30), "gw3": five("gw3", 1, 30), "gw4": five("gw4", 6, 30),
              "gw2": batch(again, result("gw2", "voucher-log", at=minutes_ago(30), seq=8), host="gw2")}

    writer = app.state.ingest_writer = GroupWriter(app.state.engine, max_group=8, writers=1,
                                                   many=pg_group.write_group)
    sizes: list[int] = []
    writer.on_group = sizes.append
    hold, held = threading.Event(), threading.Event()

    def busy(tx: Any) -> None:  # keeps the only writer busy while the batches queue behind it
        held.set()
        hold.wait(10)
    blocker = threading.Thread(target=writer.run, args=(busy,))
    blocker.start()
    assert held.wait(10)
    outcomes: dict[str, Any] = {}

    def agent(name: str) -> None:
        try:
            outcomes[name] = post(app, tokens[name], bodies[name]).accepted
        except HTTPException as e:
            outcomes[name] = e.status_code
    threads = [threading.Thread(target=agent, args=(name,)) for name in bodies]
    for t in threads:
        t.start()
    wait_until(lambda: len(writer._queue) == 4)
    hold.set()
    for t in [*threads, blocker]:
        t.join(30)
    assert outcomes == {"gw1": 5, "gw2": 1, "gw3": 5, "gw4": 401}
    assert sizes == [1, 4] and writer.failed_groups == 1
    assert common == [3]  # the first try; the careful retries write one batch at a time
    snap = snapshot(app, "gw")
    assert [row[:2] for row in snap["hosts"]] == [("gw1", 5), ("gw2", 8), ("gw3", 5), ("gw4", 5)]
    assert [row[0] for row in snap["results"]].count("gw2") == 2  # the early result once, the new one


def wait_until(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_copy_many_is_the_batches_payloads_joined() -> None:
    now = datetime.now(timezone.utc)
    ra = parse(orjson.dumps(batch(result("x1", seq=1), host="x1")), max_results=10, max_depth=8, now=now)[1]
    rb = parse(orjson.dumps(batch(result("x2", seq=2), result("x2", "c2"), host="x2")), max_results=10,
               max_depth=8, now=now)[1]
    one, two = store.copy_rows(ra, 1, now), store.copy_rows(rb, 2, now)
    assert store.copy_many([(ra, 1, now), (rb, 2, now)]) == one[:-2] + two[19:]
