"""Nothing an agent sends makes ingest answer 5xx, every refusal names the result's index and field, and
one result id is stored once whatever its started_at (real PostgreSQL and SQLite)."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.app import create_app
from collector.config import Settings
from tests.collector.conftest import Api


def uuid7(at: datetime) -> uuid.UUID:
    """A UUIDv7 of `at` (built here, not by checks.model, so that this test runs on older code too)."""
    rand = uuid.uuid4().int & ((1 << 80) - 1)
    return uuid.UUID(int=(int(at.timestamp() * 1000) << 80) | (rand & ~(0xF << 76)) | (0x7 << 76))


def wire(**over: Any) -> dict[str, Any]:
    at = datetime.now(timezone.utc) - timedelta(minutes=5)
    r = {"id": str(uuid7(at)), "seq": None, "host": "web01", "check": "root-disk", "type": "disk",
         "system": "os", "status": "OK", "summary": "ok", "started_at": at.isoformat(), "duration": 0.1,
         "metrics": [{"name": "used_percent:/", "value": 42, "unit": "%"}], "details": {}}
    r.update(over)
    return r


def post(api: Api, *results: dict[str, Any], agent: Any = None) -> Any:
    body = json.dumps({"agent": {"host": "web01"} if agent is None else agent, "results": list(results)})
    return api.client.post("/api/v1/results", content=body.encode(), headers={
        **api.h(api.token), "Content-Type": "application/json"})


def stored(api: Api) -> list[Any]:
    with api.app.state.engine.connect() as c:
        return list(c.execute(sa.text("SELECT id, summary, details FROM results ORDER BY started_at")))


@pytest.mark.parametrize(("over", "field"), [
    ({"check": "a\x00b"}, "check"), ({"host": "web\x00"}, "host"), ({"type": "t" * 33}, "type"),
    ({"type": "\ud800"}, "type"), ({"seq": 2**70}, "seq"), ({"status": "\x00"}, "status"),
    ({"metrics": [{"name": "m", "value": 1, "unit": "\x00"}]}, "metrics[0].unit"),
    ({"metrics": [{"name": "m", "value": 1, "warn": "1" * 200}]}, "metrics[0].warn"),
    ({"started_at": "9999-12-31T23:59:59-23:59"}, "started_at"),
])
def test_unstorable_values_are_refused_with_index_and_field(api: Api, over: dict[str, Any], field: str) -> None:
    r = post(api, wire(), wire(**over))
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, field)]
    assert stored(api) == []


def test_nul_and_lone_surrogates_in_summary_and_details_are_stored_replaced(api: Api) -> None:
    r = post(api, wire(summary="OK - build\x00id 7\udc80", details={"samples": ["a\x00b"], "\ud800": 1}))
    assert r.status_code == 200, r.text
    [(_, summary, details)] = stored(api)
    details = json.loads(details) if isinstance(details, str) else details
    assert summary == "OK - build\ufffdid 7\ufffd"
    assert details == {"samples": ["a\ufffdb"], "\ufffd": 1}


def test_a_hostile_agent_block_is_ignored_not_fatal(api: Api) -> None:
    r = post(api, wire(), agent={"host": "web01", "version": "1.0\x00\ud800", "dropped_total": 2**70,
                                 "heartbeat": 1e308, "labels": {"a\x00": "b"}})
    assert r.status_code == 200, r.text
    host = api.get("/api/v1/hosts/web01")
    assert "\x00" not in json.dumps(host)


@pytest.mark.parametrize("seqs", [(None, None, None), (1, 1, 1), (1, 2, 3)])
def test_one_id_is_stored_once_whatever_its_started_at(api: Api, seqs: tuple[Any, ...]) -> None:
    """Posted three times with three started_at values (each within the id's time tolerance): one row.
    Rising seqs take PostgreSQL's COPY path, which must look the id up too."""
    at = datetime.now(timezone.utc) - timedelta(hours=2)
    rid = str(uuid7(at))
    replies = []
    for seq, shift in zip(seqs, (0, 1, 3600)):
        r = post(api, wire(id=rid, seq=seq, started_at=(at + timedelta(seconds=shift)).isoformat()))
        assert r.status_code == 200, r.text
        replies.append(r.json())
    assert [(x["accepted"], x["duplicates"]) for x in replies] == [(1, 0), (0, 1), (0, 1)]
    assert len(stored(api)) == 1


def test_one_id_twice_in_one_batch_is_stored_once(api: Api) -> None:
    at = datetime.now(timezone.utc) - timedelta(hours=1)
    rid = str(uuid7(at))
    r = post(api, wire(id=rid, started_at=at.isoformat()), wire(id=rid, started_at=(at + timedelta(1)).isoformat()))
    assert (r.json()["accepted"], r.json()["duplicates"]) == (1, 1)
    assert len(stored(api)) == 1


def test_started_at_far_from_the_id_time_is_refused(api: Api) -> None:
    at = datetime.now(timezone.utc) - timedelta(hours=1)
    r = post(api, wire(id=str(uuid7(at - timedelta(days=2))), started_at=at.isoformat()))
    assert r.status_code == 422
    assert r.json()["detail"]["errors"][0]["field"] == "id"


# ---- random values through the real app on PostgreSQL: never a 5xx

@pytest.fixture
def pg_api(pg_url: str) -> Iterator[Api]:
    app = create_app(Settings(db_url=pg_url, jobs_enabled=False))
    with TestClient(app) as client:
        yield Api(client)


TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40) | st.sampled_from(
    ["\x00", "\ud800", "a\udfff", "x" * 300, "", "OK", "9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+14:00"])
NUMBER = (st.integers(-2**80, 2**80) | st.floats(allow_nan=False) | st.sampled_from([2**63, 2**63 - 1, -1, 1e308]))
VALUE = st.none() | st.booleans() | TEXT | NUMBER | st.lists(TEXT, max_size=2) | st.dictionaries(TEXT, TEXT, max_size=2)
FIELDS = ["id", "seq", "host", "check", "type", "system", "status", "summary", "started_at", "duration", "details"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from([*FIELDS, "metric", "agent"]), st.sampled_from(
    ["name", "value", "unit", "warn", "min", "version", "dropped_total", "heartbeat"]), VALUE), max_size=4))
@pytest.mark.postgres
def test_random_values_never_make_ingest_answer_5xx(pg_api: Api, changes: list[tuple[str, str, Any]]) -> None:
    result = wire(seq=None)
    agent: dict[str, Any] = {"host": "web01"}
    for where, key, value in changes:
        if where == "metric":
            result["metrics"][0][key] = value
        elif where == "agent":
            agent[key] = value
        else:
            result[where] = value
    body = json.dumps({"agent": agent, "results": [result]}).encode()  # ASCII: lone surrogates as escapes
    r = pg_api.client.post("/api/v1/results", content=body,
                           headers={**pg_api.h(pg_api.token), "Content-Type": "application/json"})
    assert r.status_code < 500, r.text
    if r.status_code == 422:
        assert all(isinstance(e["index"], int) for e in r.json()["detail"]["errors"])
