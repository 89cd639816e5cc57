"""Validated results as light records, straight from the request bytes.

The batch is decoded and type-checked in C against the one wire model (collector.results.wire); what
types cannot say is checked here. A batch that fails, or whose body holds a NUL or a surrogate escape,
is gone through once more result by result with the same model, so that every error names its
result's index and field (and NUL/lone surrogates in summary and details are replaced by U+FFFD).
Metrics and details stay JSON text from here to the database: they are stored, not interpreted.
"""
from __future__ import annotations

import json
import math
import uuid
from datetime import datetime, timedelta
from typing import Any, Optional

import msgspec
import orjson

from checks.model import MAX_DETAIL_BYTES, MAX_SUMMARY_LEN, SYSTEM_LABELS_ZH, Status
from collector.results.wire import (
    BAD_ESCAPE,
    ResultIn,
    agent_block,
    clean_json,
    clean_text,
    decode_batch,
    decode_result,
    explain,
    text_problem,
)

_STATUS_BY_NAME = {s.name: s for s in Status}
_STATUS_BY_INT = {int(s): s for s in Status}
_encode = msgspec.json.Encoder().encode
# A UUIDv7's time and started_at agree within this (checks.runner makes the id when the check ends, so
# the difference is the check's duration; durations are below a day): an id is then looked for in a
# bounded time range when it is stored (collector.ingest.store).
ID_TIME_TOLERANCE = timedelta(days=1)
_ID_TIME_TOLERANCE_MS = int(ID_TIME_TOLERANCE.total_seconds() * 1000)


class BatchError(ValueError):
    def __init__(self, status: int, message: str, errors: Optional[list[dict[str, Any]]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


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


class _Invalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse(body: bytes, *, max_results: int, max_depth: int, now: datetime,
          max_age: timedelta = timedelta(days=400), max_skew: timedelta = timedelta(days=1),
          ) -> tuple[dict[str, Any], list[Rec]]:
    """(agent block, records), or BatchError: 400 malformed JSON, 413 too many results, 422 with one
    error per invalid result (`index`, `id`, `field`, `error`); nothing is stored on error."""
    window = _Window(now - max_age, now + max_skew)
    if BAD_ESCAPE.search(body) is None:
        try:
            batch = decode_batch(body)
            if len(batch.results) <= max_results:
                recs = [_rec(item, window, max_depth) for item in batch.results]
                agent = msgspec.json.decode(batch.agent)
                if type(agent) is not dict:
                    raise ValueError("'agent' must be an object")
                return agent_block(agent), recs
        except (msgspec.DecodeError, _Invalid, ValueError, RecursionError):
            pass
    return _careful(body, max_results, max_depth, window)


def _careful(body: bytes, max_results: int, max_depth: int, window: _Window) -> tuple[dict[str, Any], list[Rec]]:
    """The same decisions, one result at a time, with every error."""
    try:  # the C decoder refuses absurd nesting with RecursionError, cheaply
        doc = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise BatchError(400, f"malformed JSON: {e}") from None
    if not isinstance(doc, dict):
        raise BatchError(422, "body must be an object with 'agent' and 'results'")
    agent = doc.get("agent", {})
    raw = doc.get("results")
    if not isinstance(agent, dict):
        raise BatchError(422, "'agent' must be an object")
    if not isinstance(raw, list):
        raise BatchError(422, "'results' must be a list")
    if len(raw) > max_results:
        raise BatchError(413, f"batch of {len(raw)} results is over the limit of {max_results}")
    recs: list[Rec] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        try:
            recs.append(_rec(_decode_one(item), window, max_depth))
        except ValueError as e:  # _Invalid, or anything odd a value may raise: its message
            rid = item.get("id") if isinstance(item, dict) else None
            errors.append({"index": i, "id": clean_text(rid) if isinstance(rid, str) else None,
                           "field": getattr(e, "field", ""), "error": clean_text(str(e))})
    if errors:
        raise BatchError(422, f"{len(errors)} invalid result(s); nothing stored", errors[:50])
    return agent_block(agent), recs


def _decode_one(item: Any) -> ResultIn:
    if isinstance(item, dict):
        item = _clean_item(item)
    try:
        return decode_result(json.dumps(item, ensure_ascii=False, allow_nan=False).encode())
    except msgspec.ValidationError as e:
        raise _Invalid(*explain(e)) from None
    except ValueError:  # json.dumps: an overflowing literal decoded as inf
        raise _Invalid("", "numbers must be finite") from None


def _clean_item(item: dict[str, Any]) -> dict[str, Any]:
    """NUL and lone surrogates: refused in names and keys, replaced in summary and details."""
    out = dict(item)
    for key, value in item.items():
        if key in ("summary", "details"):
            out[key] = clean_json(value)
        elif key == "metrics" and isinstance(value, list):
            for j, m in enumerate(value):
                for mk, mv in m.items() if isinstance(m, dict) else ():
                    _refuse(f"metrics[{j}].{mk}", mv)
        else:
            _refuse(key, value)
    return out


def _refuse(field: str, value: Any) -> None:
    """Text that cannot be stored, or a number that overflowed to infinity."""
    problem = text_problem(value) if isinstance(value, str) else None
    if problem:
        raise _Invalid(field, f"{field} {problem}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid(field, f"{field} must be a finite number")


class _Window:
    """started_at bounds, kept in the results' own offset: comparing aware datetimes with different
    tzinfo objects costs a utcoffset() call on each side (microseconds); with the same object, nothing."""

    __slots__ = ("hi", "lo", "tz")

    def __init__(self, lo: datetime, hi: datetime) -> None:
        self.lo, self.hi, self.tz = lo, hi, lo.tzinfo

    def check(self, at: datetime) -> None:
        tz = at.tzinfo
        if tz is None:
            raise _Invalid("started_at", "started_at needs a UTC offset")
        try:
            if tz is not self.tz:
                self.lo, self.hi, self.tz = self.lo.astimezone(tz), self.hi.astimezone(tz), tz
            if at > self.hi:
                raise _Invalid("started_at", "started_at is in the future (check the host's clock)")
            if at < self.lo:
                raise _Invalid("started_at", "started_at is older than the retention window")
        except OverflowError:  # year 1 or 9999 with an offset
            raise _Invalid("started_at", "started_at is out of range") from None


def _rec(d: ResultIn, window: _Window, max_depth: int) -> Rec:
    if d.system not in SYSTEM_LABELS_ZH:
        raise _Invalid("system", f"system {d.system!r} is not one of {', '.join(SYSTEM_LABELS_ZH)}")
    st = d.status
    status = _STATUS_BY_NAME.get(st) if type(st) is str else _STATUS_BY_INT.get(st)
    if status is None:
        try:
            status = Status.parse(st)
        except ValueError as e:
            raise _Invalid("status", str(e)) from None
    at = d.started_at
    window.check(at)
    _id_time_agrees(d.id, at)
    if not (0 <= d.duration < 86400):
        raise _Invalid("duration", "duration must be between 0 and 86400 seconds")
    details = bytes(d.details)
    if details != b"{}":
        try:
            value = orjson.loads(details)
        except orjson.JSONDecodeError:  # a lone surrogate: the careful path replaces it
            raise ValueError("details need cleaning") from None
        if type(value) is not dict:
            raise _Invalid("details", "details must be an object")
        if len(details) > MAX_DETAIL_BYTES:
            raise _Invalid("details", f"details larger than {MAX_DETAIL_BYTES} bytes")
        if depth(value, max_depth) > max_depth:
            raise _Invalid("details", f"details nested deeper than {max_depth} levels")
    summary = d.summary
    if len(summary) > MAX_SUMMARY_LEN:
        summary = summary[:MAX_SUMMARY_LEN]
    return Rec(d.id, d.seq, d.host, d.check, d.type, d.system, status, summary, at, d.duration,
               _encode(d.metrics).decode(), details.decode())


def _id_time_agrees(rid: uuid.UUID, at: datetime) -> None:
    """The id must be a UUIDv7 whose time is within ID_TIME_TOLERANCE of started_at."""
    n = rid.int  # bits, not uuid.UUID.version/.variant: two Python properties per result cost more
    if (n >> 76) & 0xF != 7 or (n >> 62) & 0x3 != 0b10:  # version 7, RFC 9562 variant
        raise _Invalid("id", "id must be a UUIDv7 (RFC 9562)")
    ms = n >> 80
    if abs(ms - int(at.timestamp() * 1000)) > _ID_TIME_TOLERANCE_MS:
        raise _Invalid("id", f"the time in id and started_at differ by more than {ID_TIME_TOLERANCE.days} day")


def depth(value: Any, limit: int) -> int:
    """Nesting depth of free-form details, stopping as soon as the limit is passed."""
    if limit < 0:
        return 1
    if isinstance(value, dict):
        return 1 + max((depth(v, limit - 1) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v, limit - 1) for v in value), default=0)
    return 0
