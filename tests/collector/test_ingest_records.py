"""The one wire model (collector.results.wire) as ingest reads it (collector.ingest.records): the whole
batch at once and result by result decide alike, for plain batches and every odd value a generator can
think of; hostile text is refused or replaced with the result's index and field named."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks.model import uuid7
from collector.ingest import records
from collector.ingest.records import BatchError, Rec, parse

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
LIMITS = {"max_results": 50, "max_depth": 8, "now": NOW}


def plain_metric() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        "name": st.text(min_size=1, max_size=20), "value": st.one_of(st.integers(-10**6, 10**6),
                                                                     st.floats(allow_nan=False, allow_infinity=False)),
        "unit": st.sampled_from(["", "%", "B"]), "warn": st.one_of(st.none(), st.sampled_from(["80", "@10:20"])),
        "crit": st.one_of(st.none(), st.just("90")), "min": st.one_of(st.none(), st.just(0)),
        "max": st.one_of(st.none(), st.just(100.0))})


def plain_result() -> st.SearchStrategy[dict[str, Any]]:
    offsets = st.sampled_from([timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30))])
    times = st.builds(lambda s, tz: (NOW - timedelta(seconds=s)).astimezone(tz).isoformat(),
                      st.integers(-3600, 3600 * 24 * 30), offsets)
    return st.builds(_with_id, st.fixed_dictionaries({
        "seq": st.one_of(st.none(), st.integers(0, 2**40)),
        "host": st.just("h1"), "check": st.text(min_size=1, max_size=12),
        "type": st.sampled_from(["log", "disk", ""]), "system": st.sampled_from(["voucher", "seal", "mq", "os"]),
        "status": st.one_of(st.sampled_from(["OK", "WARNING", "CRITICAL", "UNKNOWN"]), st.integers(0, 3)),
        "summary": st.text(max_size=40), "started_at": times,
        "duration": st.one_of(st.integers(0, 100), st.floats(0, 1000)),
        "metrics": st.lists(plain_metric(), max_size=3),
        "details": st.one_of(st.just({}), st.fixed_dictionaries({"samples": st.lists(st.text(max_size=10),
                                                                                       max_size=3)}))}))


def _with_id(d: dict[str, Any]) -> dict[str, Any]:
    """A UUIDv7 of the result's own time, as the agent makes it."""
    return {"id": str(uuid7(datetime.fromisoformat(d["started_at"]))), **d}


# what an odd or hostile client may put in place of a field's value
ODD = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.just(2**70), st.just(1e308 * 10),
                st.text(max_size=5), st.just("OK"), st.just("ok"), st.just(""), st.just([]), st.just({}),
                st.just("2026-11-25T08:00:00"), st.just("2020-01-01T00:00:00+00:00"), st.just("nope"),
                st.just("x" * 2000),
                st.just("a\x00b"), st.just("\ud800"), st.just(-2**70), st.just(1e-320),
                st.just({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}))


@st.composite
def batches(draw: Any) -> bytes:
    results = draw(st.lists(plain_result(), max_size=6))
    for r in results:
        if draw(st.booleans()):  # spoil a field, or a metric's field, or drop one
            target = r
            if r["metrics"] and draw(st.booleans()):
                target = r["metrics"][0]
            key = draw(st.sampled_from(sorted(target)))
            if draw(st.integers(0, 4)) == 0:
                del target[key]
            else:
                target[key] = draw(ODD)
    doc: Any = {"agent": {"host": "h1", "version": "1"}, "results": results}
    if draw(st.integers(0, 20)) == 0:
        doc = draw(st.sampled_from([[], {"results": {}}, {"agent": [], "results": []}, "x"]))
    return json.dumps(doc, ensure_ascii=draw(st.booleans()), allow_nan=True).encode("utf-8", "surrogatepass")


def view(rec: Rec) -> tuple[Any, ...]:
    return (rec.id, rec.seq, rec.host, rec.check, rec.type, rec.system, rec.status, rec.summary, rec.started_at,
            rec.started_at.utcoffset(), rec.duration, json.loads(rec.metrics_json), json.loads(rec.details_json))


def outcome(fn: Any, body: bytes) -> Any:
    try:
        agent, recs = fn(body)
    except BatchError as e:
        return ("error", e.status, e.message, e.errors)
    return agent, [view(r) for r in recs]


def careful(body: bytes) -> Any:
    window = records._Window(NOW - timedelta(days=400), NOW + timedelta(days=1))
    return records._careful(body, LIMITS["max_results"], LIMITS["max_depth"], window)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_whole_batch_and_one_by_one_decide_alike(body: bytes) -> None:
    fast = outcome(lambda b: parse(b, **LIMITS), body)
    assert fast == outcome(careful, body)
    if fast[0] == "error" and fast[1] == 422 and fast[3] and "index" in fast[3][0]:
        assert all(isinstance(e["index"], int) and "field" in e for e in fast[3])


def test_plain_batch_stays_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("a plain batch went the careful way")

    monkeypatch.setattr(records, "_careful", refuse)
    at = "2026-11-25T15:59:00.5+08:00"
    body = json.dumps({"agent": {"host": "h1"}, "results": [{
        "id": str(uuid7(datetime.fromisoformat(at))), "seq": 7, "host": "h1", "check": "root-disk", "type": "disk",
        "system": "os", "status": "WARNING", "summary": "/ 已用 85%", "started_at": at, "duration": 0.01,
        "metrics": [{"name": "used_percent:/", "value": 85, "unit": "%", "warn": "80", "crit": "90", "min": 0,
                     "max": 100}], "details": {"samples": ["凭证"]}}]}, ensure_ascii=False).encode()
    _, [rec] = parse(body, **LIMITS)
    assert rec.started_at == datetime(2026, 11, 25, 7, 59, 0, 500000, tzinfo=timezone.utc)
    assert json.loads(rec.metrics_json) == [{"name": "used_percent:/", "value": 85.0, "unit": "%", "warn": "80",
                                             "crit": "90", "min": 0.0, "max": 100.0}]
    assert json.loads(rec.details_json) == {"samples": ["凭证"]}


def good(**over: Any) -> dict[str, Any]:
    at = (NOW - timedelta(minutes=1)).isoformat()
    r = {"id": str(uuid7(NOW - timedelta(minutes=1))), "seq": 1, "host": "h1", "check": "c", "type": "log",
         "system": "os", "status": "OK", "summary": "ok", "started_at": at, "duration": 0.1, "metrics": [],
         "details": {}}
    r.update(over)
    return r


def refused(*results: dict[str, Any], agent: Any = None) -> list[dict[str, Any]]:
    body = json.dumps({"agent": agent or {}, "results": list(results)}).encode()
    with pytest.raises(BatchError) as e:
        parse(body, **LIMITS)
    assert e.value.status == 422
    return e.value.errors


@pytest.mark.parametrize(("over", "field", "message"), [
    ({"check": "a\x00b"}, "check", "check contains a NUL character"),
    ({"host": "\ud800"}, "host", "host contains a lone UTF-16 surrogate"),
    ({"type": "t" * 33}, "type", "type: expected `str` of length <= 32"),
    ({"seq": 2**70}, "seq", "seq must be an integer 0..9223372036854775807"),
    ({"seq": -1}, "seq", "seq must be an integer 0..9223372036854775807"),
    ({"check": "c" * 129}, "check", "check must be 1..128 characters"),
    ({"system": "db"}, "system", "system 'db' is not one of voucher, seal, mq, os"),
    ({"status": "bad"}, "status", "not a status: 'bad' (expected OK, WARNING, CRITICAL, UNKNOWN or 0..3)"),
    ({"duration": -1}, "duration", "duration must be between 0 and 86400 seconds"),
    ({"metrics": [{"name": "m", "value": 1e400}]}, "metrics[0].value", "metrics[0].value must be a finite number"),
    ({"metrics": [{"name": "m\x00", "value": 1}]}, "metrics[0].name", "metrics[0].name contains a NUL character"),
    ({"metrics": [{"name": "m", "value": 1, "unit": "u" * 65}]}, "metrics[0].unit",
     "metrics[0].unit: expected `str` of length <= 64"),
    ({"id": str(uuid.uuid4())}, "id", "id must be a UUIDv7 (RFC 9562)"),
    # version 7 but another variant (Microsoft's, then NCS's): not RFC 9562
    ({"id": str(uuid.UUID(int=uuid7(NOW).int ^ (0b11 << 62)))}, "id", "id must be a UUIDv7 (RFC 9562)"),
    ({"id": str(uuid.UUID(int=uuid7(NOW).int & ~(0b11 << 62)))}, "id", "id must be a UUIDv7 (RFC 9562)"),
    ({"id": str(uuid7(NOW - timedelta(days=3)))}, "id", "the time in id and started_at differ by more than 1 day"),
    ({"started_at": "9999-12-31T23:59:59-23:59"}, "started_at", "started_at is in the future (check the host's clock)"),
    ({"started_at": "2026-11-25T08:00:00"}, "started_at", "started_at needs a UTC offset"),
    ({"details": {"a": "x" * 20000}}, "details", "details larger than 16384 bytes"),
])
def test_a_bad_value_is_refused_naming_index_and_field(over: dict[str, Any], field: str, message: str) -> None:
    errors = refused(good(), good(**over), good())
    assert errors == [{"index": 1, "id": errors[0]["id"], "field": field, "error": message}]


def test_nul_and_lone_surrogates_in_summary_and_details_are_replaced() -> None:
    body = json.dumps({"agent": {}, "results": [good(summary="OK - build\x00id 7 \udc80",
                                                     details={"samples": ["a\x00"], "k\ud800": 1})]}).encode()
    _, [rec] = parse(body, **LIMITS)
    assert rec.summary == "OK - build\ufffdid 7 \ufffd"
    assert json.loads(rec.details_json) == {"samples": ["a\ufffd"], "k\ufffd": 1}


def test_the_agent_block_is_advisory() -> None:
    body = json.dumps({"agent": {"version": "1\x00", "dropped_total": 2**70, "heartbeat": float("1e300")},
                       "results": [good()]}).encode()
    agent, [_] = parse(body, **LIMITS)
    assert agent == {"version": "1\ufffd"}
