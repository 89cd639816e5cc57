"""Validated results as light records, straight from the request bytes.

The fast path accepts only the plain wire shape the agent sends (strings where strings belong, numbers
as JSON numbers, statuses spelled OK/WARNING/CRITICAL/UNKNOWN or 0..3). Anything else — an error, or an
unusual but valid spelling — sends the whole batch through the reference validator
(`collector.results.validate.parse_batch`), so what is accepted and every error message stay the same.
"""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any, Optional

import orjson

from checks.model import MAX_DETAIL_BYTES, MAX_METRICS, MAX_NAME_LEN, MAX_SUMMARY_LEN, SYSTEM_LABELS_ZH, Result, Status
from collector.results.validate import _depth, parse_batch

_STATUS_BY_NAME = {s.name: s for s in Status}
_STATUS_BY_INT = {int(s): s for s in Status}
_NUM = (int, float)


class Rec:
    """One validated result: the attributes rules and tickets read from a checks.model.Result."""

    __slots__ = ("check", "details", "duration", "host", "id", "metrics", "seq", "started_at", "status",
                 "summary", "system", "type")

    def __init__(self, id: uuid.UUID, seq: Optional[int], host: str, check: str, type: str, system: str,
                 status: Status, summary: str, started_at: datetime, duration: float,
                 metrics: list[dict[str, Any]], details: dict[str, Any]) -> None:
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
        self.metrics = metrics  # as Metric.to_dict() gives them
        self.details = details

    @classmethod
    def from_result(cls, r: Result) -> Rec:
        return cls(r.id, r.seq, r.host, r.check, r.type, r.system, r.status, r.summary, r.started_at, r.duration,
                   [m.to_dict() for m in r.metrics], r.details)


class _Slow(Exception):
    """Not the plain shape: let the reference validator decide."""


def parse(body: bytes, *, max_results: int, max_depth: int, now: datetime,
          max_age: timedelta = timedelta(days=400), max_skew: timedelta = timedelta(days=1),
          ) -> tuple[dict[str, Any], list[Rec]]:
    """(agent block, records); raises collector.results.validate.BatchError like parse_batch."""
    try:
        doc = orjson.loads(body)
        if type(doc) is not dict:
            raise _Slow
        agent = doc.get("agent", {})
        raw = doc.get("results")
        if type(agent) is not dict or type(raw) is not list or len(raw) > max_results:
            raise _Slow
        lo, hi = now - max_age, now + max_skew
        return agent, [_one(item, lo, hi, max_depth) for item in raw]
    except (_Slow, orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError):
        batch = parse_batch(body, max_results=max_results, max_depth=max_depth, now=now, max_age=max_age,
                            max_skew=max_skew)
        return batch.agent, [Rec.from_result(r) for r in batch.results]


def _name(v: Any) -> str:
    if type(v) is not str or not v or len(v) > MAX_NAME_LEN:
        raise _Slow
    return v


def _one(d: Any, lo: datetime, hi: datetime, max_depth: int) -> Rec:
    if type(d) is not dict:
        raise _Slow
    rid = d["id"]
    if type(rid) is not str:
        raise _Slow
    system = d["system"]
    if system not in SYSTEM_LABELS_ZH:
        raise _Slow
    st = d["status"]
    status = _STATUS_BY_NAME.get(st) if type(st) is str else _STATUS_BY_INT.get(st) if type(st) is int else None
    if status is None:
        raise _Slow
    started = d["started_at"]
    if type(started) is not str:
        raise _Slow
    at = datetime.fromisoformat(started)
    if at.tzinfo is None or not (lo <= at <= hi):
        raise _Slow
    summary = d.get("summary") or ""
    if type(summary) is not str:
        raise _Slow
    if len(summary) > MAX_SUMMARY_LEN:
        summary = summary[:MAX_SUMMARY_LEN]
    type_ = d.get("type") or ""
    if type(type_) is not str:
        raise _Slow
    duration = d.get("duration") or 0.0
    if type(duration) not in _NUM or not (0 <= duration < 86400):
        raise _Slow
    seq = d.get("seq")
    if seq is not None and type(seq) is not int:
        raise _Slow
    metrics = d.get("metrics") or []
    if type(metrics) is not list or len(metrics) > MAX_METRICS:
        raise _Slow
    details = d.get("details") or {}
    if type(details) is not dict:
        raise _Slow
    if details:
        # bytes >= characters: within the byte limit is within the reference's character limit
        if len(orjson.dumps(details)) > MAX_DETAIL_BYTES or _depth(details, max_depth) > max_depth:
            raise _Slow
    return Rec(uuid.UUID(rid), seq, _name(d["host"]), _name(d["check"]), type_, system, status, summary, at,
               float(duration), [_metric(m) for m in metrics], details)


def _metric(m: Any) -> dict[str, Any]:
    if type(m) is not dict:
        raise _Slow
    name = m["name"]
    value = m["value"]
    if type(name) is not str or not name or len(name) > MAX_NAME_LEN * 2 or type(value) not in _NUM:
        raise _Slow
    value = float(value)
    if not math.isfinite(value):
        raise _Slow
    unit = m.get("unit") or ""
    warn, crit, lo, hi = m.get("warn"), m.get("crit"), m.get("min"), m.get("max")
    if (type(unit) is not str or (warn is not None and type(warn) is not str)
            or (crit is not None and type(crit) is not str)
            or (lo is not None and type(lo) not in _NUM) or (hi is not None and type(hi) not in _NUM)):
        raise _Slow
    return {"name": name, "value": value, "unit": unit, "warn": warn, "crit": crit,
            "min": None if lo is None else float(lo), "max": None if hi is None else float(hi)}
