"""Turning an agent's raw batch into Results, or a precise error; nothing is stored on error."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from checks.model import (
    MAX_DETAIL_BYTES,
    MAX_METRICS,
    MAX_NAME_LEN,
    MAX_SUMMARY_LEN,
    SYSTEM_LABELS_ZH,
    Result,
)


class BatchError(ValueError):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []


@dataclass
class Batch:
    agent: dict[str, Any]
    results: list[Result] = field(default_factory=list)


def parse_batch(body: bytes, *, max_results: int, max_depth: int, now: datetime,
                max_age: timedelta = timedelta(days=400), max_skew: timedelta = timedelta(days=1)) -> Batch:
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
    results: list[Result] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        try:
            r = _one(item, now, max_age, max_skew)
            if _depth(r.details, max_depth) > max_depth:
                raise ValueError(f"details nested deeper than {max_depth} levels")
            results.append(r)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as e:  # any odd value: its error
            msg = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            errors.append({"index": i, "id": item.get("id") if isinstance(item, dict) else None, "error": msg})
    if errors:
        raise BatchError(422, f"{len(errors)} invalid result(s); nothing stored", errors[:50])
    return Batch(agent=agent, results=results)


def _one(item: Any, now: datetime, max_age: timedelta, max_skew: timedelta) -> Result:
    if not isinstance(item, dict):
        raise ValueError("a result must be an object")
    r = Result.from_dict(item)
    for name in ("host", "check"):
        v = getattr(r, name)
        if not v or len(v) > MAX_NAME_LEN:
            raise ValueError(f"{name} must be 1..{MAX_NAME_LEN} characters")
    if r.system not in SYSTEM_LABELS_ZH:
        raise ValueError(f"system {r.system!r} is not one of {', '.join(SYSTEM_LABELS_ZH)}")
    if len(r.summary) > MAX_SUMMARY_LEN:
        r.summary = r.summary[:MAX_SUMMARY_LEN]
    if len(r.metrics) > MAX_METRICS:
        raise ValueError(f"more than {MAX_METRICS} metrics")
    for m in r.metrics:
        if not m.name or len(m.name) > MAX_NAME_LEN * 2:
            raise ValueError("metric name must be 1..256 characters")
    if len(json.dumps(r.details, ensure_ascii=False)) > MAX_DETAIL_BYTES:
        raise ValueError(f"details larger than {MAX_DETAIL_BYTES} bytes")
    if r.started_at > now + max_skew:
        raise ValueError("started_at is in the future (check the host's clock)")
    if r.started_at < now - max_age:
        raise ValueError("started_at is older than the retention window")
    if not (0 <= r.duration < 86400):
        raise ValueError("duration must be between 0 and 86400 seconds")
    return r


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of free-form details, stopping as soon as the limit is passed."""
    if limit < 0:
        return 1
    if isinstance(value, dict):
        return 1 + max((_depth(v, limit - 1) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v, limit - 1) for v in value), default=0)
    return 0
