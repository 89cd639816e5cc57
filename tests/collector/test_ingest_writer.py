"""Group commit (collector.ingest.writer): queued batches share a transaction; one batch's failure is its own.

On SQLite and the real PostgreSQL; real threads, real transactions.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import HTTPException

from checks.model import Status
from collector.db import make_engine
from collector.hosts import service as hosts
from collector.ingest import pipeline
from collector.ingest.tx import Tx
from collector.ingest.writer import GroupWriter
from tests.collector.factories import batch, minutes_ago, result


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    with engine.begin() as c:
        c.execute(sa.text("DROP TABLE IF EXISTS group_probe"))
        c.execute(sa.text("CREATE TABLE group_probe (n INTEGER PRIMARY KEY)"))
    yield engine
    with engine.begin() as c:
        c.execute(sa.text("DROP TABLE group_probe"))
    engine.dispose()


def wait_until(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_queued_batches_share_a_transaction_and_a_failure_stays_with_its_batch(engine: sa.Engine) -> None:
    writer = GroupWriter(engine, max_group=8, writers=1)
    sizes: list[int] = []
    writer.on_group = sizes.append
    release_first = threading.Event()
    outcomes: dict[int, Any] = {}

    def work(n: int) -> Any:
        def run(tx: Tx) -> int:
            tx.conn.execute(sa.text("INSERT INTO group_probe (n) VALUES (:n)"), {"n": n})
            if n == 0:
                release_first.wait(10)  # holds the only writer while the others queue
            if n == 3:
                raise ValueError("batch 3 is broken")
            return n * 10
        return run

    def post(n: int) -> None:
        try:
            outcomes[n] = writer.run(work(n), key=n)
        except ValueError as e:
            outcomes[n] = e

    threads = [threading.Thread(target=post, args=(0,))]
    threads[0].start()
    wait_until(lambda: writer._writing == 1)
    threads += [threading.Thread(target=post, args=(n,)) for n in range(1, 6)]
    for t in threads[1:]:
        t.start()
    wait_until(lambda: len(writer._queue) == 5)
    release_first.set()
    for t in threads:
        t.join(10)

    assert sizes == [1, 5]  # the five that queued went in one transaction...
    assert writer.failed_groups == 1  # ...which batch 3 broke, so they were written again one by one
    assert {n: v for n, v in outcomes.items() if not isinstance(v, Exception)} == {0: 0, 1: 10, 2: 20, 4: 40, 5: 50}
    assert str(outcomes[3]) == "batch 3 is broken"
    with engine.connect() as c:
        assert sorted(c.execute(sa.text("SELECT n FROM group_probe")).scalars()) == [0, 1, 2, 4, 5]


def test_concurrent_agents_through_the_pipeline_store_everything_once(api: Any) -> None:
    """Twelve agents post at once through the real pipeline: groups form, every result is stored once,
    tickets open, and a rotated token fails only its own batch."""
    state = api.app.state
    with state.sessionmaker() as db:
        tokens = {f"grp{i:02d}": hosts.enroll(db=db, name=f"grp{i:02d}")[1] for i in range(12)}
        db.commit()
    stale = tokens["grp05"]
    pipeline.ingest(state=state, settings=state.settings, token=stale, addr="t",
                    body=json.dumps(batch(result(host="grp05", at=minutes_ago(30)), host="grp05")).encode())
    with state.sessionmaker() as db:  # grp05's token rotates while the old one is still in the cache
        hosts.enroll(db=db, name="grp05")
        db.commit()
    # one writer, so that agents posting at once surely queue behind it (the default two may keep up)
    writer = state.ingest_writer = GroupWriter(state.engine, max_group=8, writers=1)
    sizes: list[int] = []
    writer.on_group = sizes.append
    bodies = {name: [json.dumps(batch(*[result(host=name, check=f"c{k}", at=minutes_ago(20 - j),
                                               status=Status.CRITICAL if (j, k) == (3, 0) else Status.OK)
                                        for k in range(5)], host=name)).encode() for j in range(6)]
              for name in tokens}
    errors: dict[str, list[int]] = {}
    start = threading.Barrier(len(tokens))

    def agent(name: str) -> None:
        start.wait()
        for body in bodies[name]:
            try:
                pipeline.ingest(state=state, settings=state.settings, token=tokens[name], body=body, addr="t")
            except HTTPException as e:
                errors.setdefault(name, []).append(e.status_code)

    threads = [threading.Thread(target=agent, args=(name,)) for name in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == {"grp05": [401] * 6}
    assert max(sizes) > 1, sizes
    # every batch written once in some transaction: 11 agents x 6, and grp05's first (then its token is
    # forgotten and the rest are refused before the writer)
    assert sum(sizes) == 11 * 6 + 1, sizes
    with state.sessionmaker() as db:
        stored = db.execute(sa.text("SELECT h.name, count(*) FROM results r JOIN hosts h ON h.id = r.host_id "
                                    "WHERE h.name LIKE 'grp%' GROUP BY h.name")).all()
        opened = db.execute(sa.text("SELECT count(*) FROM tickets WHERE host LIKE 'grp%'")).scalar_one()
    assert dict(stored) == {**{name: 30 for name in tokens}, "grp05": 1}
    assert opened == 11  # one CRITICAL result per agent, grp05's refused


def test_many_threads_all_written_once_with_at_most_writers_at_work(engine: sa.Engine) -> None:
    """Hand-over between writers under churn: every job returns its own value, none waits forever, at most
    `writers` transactions are open at once and no group is larger than `max_group`."""
    writer = GroupWriter(engine, max_group=4, writers=2)
    sizes: list[int] = []
    writer.on_group = sizes.append
    lock = threading.Lock()
    open_now = [0, 0]  # now, most

    def work(n: int) -> Any:
        def run(tx: Tx) -> int:
            with lock:
                open_now[0] += 1
                open_now[1] = max(open_now[1], open_now[0])
            tx.conn.execute(sa.text("INSERT INTO group_probe (n) VALUES (:n)"), {"n": n})
            time.sleep(0.001 * (n % 3))
            with lock:
                open_now[0] -= 1
            return -n
        return run

    got: dict[int, int] = {}

    def client(first: int) -> None:
        for n in range(first, first + 25):
            got[n] = writer.run(work(n), key=n % 7)

    threads = [threading.Thread(target=client, args=(i * 25,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert got == {n: -n for n in range(400)}
    assert sum(sizes) == 400 and max(sizes) <= 4 and max(sizes) > 1  # groups formed, none too large
    assert open_now[1] <= 2  # two writers, each running its group's batches one after another
    assert writer._writing == 0 and not writer._queue
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*), count(DISTINCT n) FROM group_probe")).one() == (400, 400)
