"""The ingest fast path (msgspec structs, collector.ingest.records) decides exactly as the reference
validator (collector.results.validate.parse_batch): same records, or the same error, for plain batches
and for every unusual spelling a generator can think of."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.ingest.records import Rec, parse
from collector.results.validate import BatchError, parse_batch

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
    return st.fixed_dictionaries({
        "id": st.uuids().map(str), "seq": st.one_of(st.none(), st.integers(0, 2**40)),
        "host": st.just("h1"), "check": st.text(min_size=1, max_size=12),
        "type": st.sampled_from(["log", "disk", ""]), "system": st.sampled_from(["voucher", "seal", "mq", "os"]),
        "status": st.one_of(st.sampled_from(["OK", "WARNING", "CRITICAL", "UNKNOWN"]), st.integers(0, 3)),
        "summary": st.text(max_size=40), "started_at": times,
        "duration": st.one_of(st.integers(0, 100), st.floats(0, 1000)),
        "metrics": st.lists(plain_metric(), max_size=3),
        "details": st.one_of(st.just({}), st.fixed_dictionaries({"samples": st.lists(st.text(max_size=10),
                                                                                       max_size=3)}))})


# what an odd or hostile client may put in place of a field's value
ODD = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.just(2**70), st.just(1e308 * 10),
                st.text(max_size=5), st.just("OK"), st.just("ok"), st.just(""), st.just([]), st.just({}),
                st.just("2026-11-25T08:00:00"), st.just("2020-01-01T00:00:00+00:00"), st.just("nope"),
                st.just("x" * 2000), st.just({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}))


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
    return json.dumps(doc, ensure_ascii=draw(st.booleans()), allow_nan=True).encode()


def view(rec: Rec) -> tuple[Any, ...]:
    return (rec.id, rec.seq, rec.host, rec.check, rec.type, rec.system, rec.status, rec.summary, rec.started_at,
            rec.started_at.utcoffset(), rec.duration, json.loads(rec.metrics_json), json.loads(rec.details_json))


def outcome(fn: Any, body: bytes) -> Any:
    try:
        return fn(body)
    except BatchError as e:
        return ("error", e.status, e.message, e.errors)


def reference(body: bytes) -> Any:
    batch = parse_batch(body, **LIMITS)
    return batch.agent, [view(Rec.from_result(r)) for r in batch.results]


def fast(body: bytes) -> Any:
    agent, recs = parse(body, **LIMITS)
    return agent, [view(r) for r in recs]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_fast_path_decides_like_the_reference(body: bytes) -> None:
    assert outcome(fast, body) == outcome(reference, body)


def test_plain_batch_stays_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import collector.ingest.records as records

    def refuse(*a: Any, **k: Any) -> Any:
        raise AssertionError("the reference validator was used for a plain batch")

    monkeypatch.setattr(records, "parse_batch", refuse)
    body = json.dumps({"agent": {"host": "h1"}, "results": [{
        "id": str(uuid.uuid4()), "seq": 7, "host": "h1", "check": "root-disk", "type": "disk", "system": "os",
        "status": "WARNING", "summary": "/ 已用 85%", "started_at": "2026-11-25T15:59:00.5+08:00", "duration": 0.01,
        "metrics": [{"name": "used_percent:/", "value": 85, "unit": "%", "warn": "80", "crit": "90", "min": 0,
                     "max": 100}], "details": {"samples": ["凭证"]}}]}, ensure_ascii=False).encode()
    _, [rec] = parse(body, **LIMITS)
    assert rec.started_at == datetime(2026, 11, 25, 7, 59, 0, 500000, tzinfo=timezone.utc)
    assert json.loads(rec.metrics_json) == [{"name": "used_percent:/", "value": 85.0, "unit": "%", "warn": "80",
                                             "crit": "90", "min": 0.0, "max": 100.0}]
    assert json.loads(rec.details_json) == {"samples": ["凭证"]}
