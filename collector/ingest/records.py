"""Validated results as light records, straight from the request bytes.

The fast path decodes and type-checks the whole batch in C (msgspec structs) and accepts only the plain
wire shape the agent sends (strings where strings belong, numbers as JSON numbers, statuses spelled
OK/WARNING/CRITICAL/UNKNOWN or 0..3, times with an offset). Anything else — an error, or an unusual but
valid spelling — sends the whole batch through the reference validator
(`collector.results.validate.parse_batch`), so what is accepted and every error message stay the same.
Metrics and details stay JSON text from here to the database: they are stored, not interpreted.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import MISSING, fields
from datetime import datetime, timedelta
from typing import Annotated, Any, Optional, Union, get_type_hints

import msgspec
import orjson
from msgspec import Meta

from checks.model import (
    MAX_DETAIL_BYTES,
    MAX_METRICS,
    MAX_NAME_LEN,
    MAX_SUMMARY_LEN,
    SYSTEM_LABELS_ZH,
    Metric,
    Result,
    Status,
)
from collector.results.validate import _depth, parse_batch

_STATUS_BY_NAME = {s.name: s for s in Status}
_STATUS_BY_INT = {int(s): s for s in Status}
_Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME_LEN)]
# checks.model.Metric as a msgspec struct (same fields, types, defaults and order): encoded, it is the
# stored form, Metric.to_dict()
_METRIC_TYPES = get_type_hints(Metric)
MetricIn = msgspec.defstruct("MetricIn", [(f.name, _METRIC_TYPES[f.name], f.default) if f.default is not MISSING
                                          else (f.name, _METRIC_TYPES[f.name]) for f in fields(Metric)], gc=False)


class _ResultIn(msgspec.Struct, gc=False):
    """The agent's result object (gc=False: these structs hold no cycles, so a batch's few hundred
    objects do not count towards the cyclic collector's allocation trigger)."""

    id: uuid.UUID
    host: _Name
    check: _Name
    system: str
    status: Union[str, int]
    started_at: datetime
    summary: str = ""
    type: str = ""
    duration: float = 0.0
    seq: Optional[int] = None
    metrics: Annotated[list[MetricIn], Meta(max_length=MAX_METRICS)] = []  # type: ignore[valid-type]
    details: msgspec.Raw = msgspec.Raw(b"{}")


class _BatchIn(msgspec.Struct, gc=False):
    results: list[_ResultIn]
    agent: dict[str, Any] = {}


_decode = msgspec.json.Decoder(_BatchIn).decode
_encode = msgspec.json.Encoder().encode


class Rec:
    """One validated result: the attributes rules and tickets read, plus its metrics and details as JSON text."""

    __slots__ = ("check", "details_json", "duration", "host", "id", "metrics_json", "seq", "started_at", "status",
                 "summary", "system", "type")

    def __init__(self, id: uuid.UUID, seq: Optional[int], host: str, check: str, type: str, system: str,
                 status: Status, summary: str, started_at: datetime, duration: float,
                 metrics_json: str, details_json: str) -> None:
        self.id = id
        self.seq = seq
        self.host = host
        self.check = check
        self.type = type
        self.system = system
        self.status = status
        self.summary = summary
        self.started_at = started_at
        self.duration = duration
        self.metrics_json = metrics_json  # a JSON list of Metric.to_dict() objects
        self.details_json = details_json  # a JSON object

    @classmethod
    def from_result(cls, r: Result) -> Rec:
        return cls(r.id, r.seq, r.host, r.check, r.type, r.system, r.status, r.summary, r.started_at, r.duration,
                   orjson.dumps([m.to_dict() for m in r.metrics]).decode(), orjson.dumps(r.details).decode())


class _Slow(Exception):
    """Not the plain shape: let the reference validator decide."""


def parse(body: bytes, *, max_results: int, max_depth: int, now: datetime,
          max_age: timedelta = timedelta(days=400), max_skew: timedelta = timedelta(days=1),
          ) -> tuple[dict[str, Any], list[Rec]]:
    """(agent block, records); raises collector.results.validate.BatchError like parse_batch."""
    try:
        batch = _decode(body)
        if len(batch.results) > max_results:
            raise _Slow
        window = _Window(now - max_age, now + max_skew)
        return batch.agent, [_one(item, window, max_depth) for item in batch.results]
    except (_Slow, msgspec.DecodeError, ValueError, RecursionError):
        pass
    batch = parse_batch(body, max_results=max_results, max_depth=max_depth, now=now, max_age=max_age,
                        max_skew=max_skew)
    return batch.agent, [Rec.from_result(r) for r in batch.results]


class _Window:
    """started_at bounds, kept in the results' own offset: comparing aware datetimes with different
    tzinfo objects costs a utcoffset() call on each side (microseconds); with the same object, nothing."""

    __slots__ = ("hi", "lo", "tz")

    def __init__(self, lo: datetime, hi: datetime) -> None:
        self.lo, self.hi, self.tz = lo, hi, lo.tzinfo

    def holds(self, at: datetime) -> bool:
        tz = at.tzinfo
        if tz is not self.tz:
            if tz is None:
                return False
            self.lo, self.hi, self.tz = self.lo.astimezone(tz), self.hi.astimezone(tz), tz
        return self.lo <= at <= self.hi


def _one(d: _ResultIn, window: _Window, max_depth: int) -> Rec:
    if d.system not in SYSTEM_LABELS_ZH:
        raise _Slow
    st = d.status
    status = _STATUS_BY_NAME.get(st) if type(st) is str else _STATUS_BY_INT.get(st)
    if status is None:
        raise _Slow
    at = d.started_at
    if not window.holds(at):
        raise _Slow
    if not (0 <= d.duration < 86400):
        raise _Slow
    for m in d.metrics:
        if not math.isfinite(m.value) or not 0 < len(m.name) <= MAX_NAME_LEN * 2:
            raise _Slow
    details = bytes(d.details)
    if details != b"{}":
        # bytes >= characters: within the byte limit is within the reference's character limit
        value = orjson.loads(details)
        if type(value) is not dict or len(details) > MAX_DETAIL_BYTES or _depth(value, max_depth) > max_depth:
            raise _Slow
    summary = d.summary
    if len(summary) > MAX_SUMMARY_LEN:
        summary = summary[:MAX_SUMMARY_LEN]
    return Rec(d.id, d.seq, d.host, d.check, d.type, d.system, status, summary, at, d.duration,
               _encode(d.metrics).decode(), details.decode())
