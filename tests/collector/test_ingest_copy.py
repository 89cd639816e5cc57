"""PostgreSQL's fast insert (binary COPY, collector.ingest.store): taken only for results that cannot have been
stored before, storing exactly what the INSERT path stores, and falling back safely when the hint is wrong.

Real PostgreSQL, real collector app and ingest pipeline; the two insert functions are wrapped only to count
which one ran.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from checks.model import Metric, Result, Status
from collector.hosts import service as hosts
from collector.ingest import pipeline, store
from tests.collector.factories import batch, minutes_ago, result

pytestmark = pytest.mark.postgres

CST = timezone(timedelta(hours=8))


@pytest.fixture
def paths(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many batches went by COPY and how many by INSERT … ON CONFLICT."""
    calls = {"copy": 0, "insert": 0}
    for name, key in (("_pg_copy", "copy"), ("_pg", "insert")):
        real = getattr(store, name)

        def counted(*a: Any, _real: Any = real, _key: str = key, **k: Any) -> Any:
            calls[_key] += 1
            return _real(*a, **k)
        monkeypatch.setattr(store, name, counted)
    return calls


def enroll(app: Any, name: str) -> str:
    with app.state.sessionmaker() as db:
        token = hosts.enroll(db=db, name=name)[1]
        db.commit()
    return token


def post(app: Any, token: str, body: dict[str, Any]) -> Any:
    return pipeline.ingest(state=app.state, settings=app.state.settings, token=token, body=orjson.dumps(body),
                           addr="test")


def awkward(host: str, seq0: Any, at: datetime) -> list[Result]:
    """Results whose every column has something to get wrong: CJK, tabs, newlines, backslashes and quotes
    in text, an offset with microseconds, nested details, fractional and huge metrics."""
    out = []
    for i, (check, system, status) in enumerate([("voucher-log", "voucher", Status.OK),
                                                 ("seal-log", "seal", Status.WARNING),
                                                 ("root-disk", "os", Status.OK)]):
        out.append(Result(
            host=host, check=check, system=system, status=status, type="log" if "log" in check else "disk",
            summary=f"第{i}行\t制表\n换行 \\反斜杠 \"引号\" 凭证库",
            started_at=at + timedelta(seconds=i, microseconds=7), duration=0.125 * (i + 1),
            seq=None if seq0 is None else seq0 + i,
            metrics=[Metric("used_percent:/数据", 87.5 + i, unit="%", warn="80", crit="90", min=0, max=100),
                     Metric("free_bytes:/", 1.5e15, unit="B")],
            details={"samples": ["2026-11-25 10:00:01 ERROR 凭证发送失败\tid=42"], "nested": {"a": [1, {"b": None}]}}))
    return out


def stored(app: Any, host: str) -> list[dict[str, Any]]:
    with app.state.engine.connect() as c:
        rows = c.execute(sa.text(
            'SELECT r.started_at, r.id, r."check", r.type, r.system, r.status, r.summary, r.duration, '
            "r.metrics::text AS metrics, r.details::text AS details, r.seq, r.received_at IS NOT NULL AS received "
            "FROM results r JOIN hosts h ON h.id = r.host_id WHERE h.name = :h ORDER BY r.started_at"), {"h": host})
        return [dict(row._mapping) for row in rows]


def test_copy_stores_exactly_what_insert_stores(app: Any, paths: dict[str, int]) -> None:
    by_copy, by_insert = enroll(app, "cp01"), enroll(app, "cp02")
    at = minutes_ago(5).astimezone(CST).replace(microsecond=123456)  # once: both hosts' rows compare equal
    reply = post(app, by_copy, batch(*awkward("cp01", seq0=1, at=at), host="cp01"))
    assert (reply.accepted, reply.duplicates) == (3, 0)
    assert paths == {"copy": 1, "insert": 0}
    reply = post(app, by_insert, batch(*awkward("cp02", seq0=None, at=at), host="cp02"))  # no seqs: no hint
    assert (reply.accepted, reply.duplicates) == (3, 0)
    assert paths == {"copy": 1, "insert": 1}

    a, b = stored(app, "cp01"), stored(app, "cp02")
    assert [r["seq"] for r in a] == [1, 2, 3] and [r["seq"] for r in b] == [None] * 3
    for x, y in zip(a, b):
        assert {k: v for k, v in x.items() if k not in ("id", "seq")} == \
               {k: v for k, v in y.items() if k not in ("id", "seq")}
    first = a[0]
    assert first["summary"] == "第0行\t制表\n换行 \\反斜杠 \"引号\" 凭证库"
    assert orjson.loads(first["details"])["nested"] == {"a": [1, {"b": None}]}
    assert orjson.loads(first["metrics"])[1]["value"] == 1.5e15
    with app.state.engine.connect() as c:  # the host's high-water mark moved with the COPY batch
        assert c.execute(sa.text("SELECT last_seq FROM hosts WHERE name = 'cp01'")).scalar_one() == 3


def test_a_redelivered_batch_takes_the_insert_and_stores_nothing_twice(app: Any, paths: dict[str, int]) -> None:
    token = enroll(app, "cp03")
    body = batch(*[result("cp03", "voucher-log", at=minutes_ago(10 - i), seq=i + 1) for i in range(5)], host="cp03")
    assert post(app, token, body).accepted == 5
    reply = post(app, token, body)  # the acknowledgement was lost: the agent sends the same batch again
    assert (reply.accepted, reply.duplicates) == (0, 5)
    assert paths == {"copy": 1, "insert": 1}
    assert len(stored(app, "cp03")) == 5


def test_a_wrong_hint_falls_back_to_the_insert_without_losing_the_batch(app: Any, paths: dict[str, int]) -> None:
    token = enroll(app, "cp04")
    early = result("cp04", "voucher-log", at=minutes_ago(3))  # sent first without a seq (spool was unwritable)
    assert post(app, token, batch(early, host="cp04")).accepted == 1
    # the same result again, now spooled with a seq above anything the host stored, beside a new one
    again = dataclasses.replace(early, seq=7)
    new = result("cp04", "voucher-log", status=Status.CRITICAL, at=minutes_ago(1), critical_events=2, seq=8)
    writer = pipeline.writer(app.state)
    failed = writer.failed_groups
    reply = post(app, token, batch(again, new, host="cp04"))
    assert (reply.accepted, reply.duplicates) == (1, 1)
    assert writer.failed_groups == failed + 1  # COPY met the stored row; the careful retry took the INSERT
    assert paths == {"copy": 1, "insert": 2}
    rows = stored(app, "cp04")
    assert [(r["id"], r["seq"]) for r in rows] == [(early.id, None), (new.id, 8)]
    with app.state.engine.connect() as c:  # rules ran on the retry: the state saw the CRITICAL result
        state = c.execute(sa.text("SELECT s.status, s.last_result_id FROM check_states s JOIN hosts h "
                                  "ON h.id = s.host_id WHERE h.name = 'cp04'")).one()
    assert (state.status, state.last_result_id) == (int(Status.CRITICAL), new.id)


def test_results_with_and_without_seq_in_one_batch_take_the_insert(app: Any, paths: dict[str, int]) -> None:
    token = enroll(app, "cp05")
    body = batch(result("cp05", at=minutes_ago(2), seq=1), result("cp05", at=minutes_ago(1)), host="cp05")
    assert post(app, token, body).accepted == 2
    assert paths == {"copy": 0, "insert": 1}
    assert [r["seq"] for r in stored(app, "cp05")] == [1, None]
