"""The wire format of an agent's batch: one msgspec model with its limits.

Ingest decodes request bytes into these structs (collector.ingest.records), the OpenAPI document shows
their JSON schema (`batch_schema`), and the operator API refuses the same unstorable text
(`text_problem`). What the model cannot say in types (system names, status spellings, the started_at
window, details' size and depth) is checked by collector.ingest.records right after decoding.

JSON numbers decoded by msgspec are always finite (there is no NaN or Infinity in JSON and an
overflowing literal is refused), and integers are bounded to what PostgreSQL's BIGINT holds.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Optional, Union

import msgspec
from msgspec import Meta

from checks.model import (
    MAX_METRIC_NAME_LEN,
    MAX_METRICS,
    MAX_NAME_LEN,
    MAX_RANGE_LEN,
    MAX_TYPE_LEN,
    MAX_UNIT_LEN,
)

MAX_INT8 = 2**63 - 1  # PostgreSQL BIGINT

_Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME_LEN)]
_Range = Optional[Annotated[str, Meta(max_length=MAX_RANGE_LEN, description="Nagios range, e.g. 80 or @10:20")]]
_EMPTY = msgspec.Raw(b"{}")


class MetricIn(msgspec.Struct, gc=False):
    """checks.model.Metric on the wire; encoded, it is the stored form (the same keys in the same order)."""

    name: Annotated[str, Meta(min_length=1, max_length=MAX_METRIC_NAME_LEN)]
    value: float
    unit: Annotated[str, Meta(max_length=MAX_UNIT_LEN)] = ""
    warn: _Range = None
    crit: _Range = None
    min: Optional[float] = None
    max: Optional[float] = None


# gc=False: these structs hold no cycles, so a batch's few hundred objects do not count towards the
# cyclic collector's allocation trigger.
class ResultIn(msgspec.Struct, gc=False):
    """One result as the agent sends it (checks.model.Result.to_dict)."""

    id: Annotated[uuid.UUID, Meta(description="UUIDv7 chosen by the agent; its time must agree with "
                                              "started_at; a re-delivered id is stored once")]
    host: _Name
    check: _Name
    system: Annotated[str, Meta(description="voucher | seal | mq | os")]
    status: Annotated[Union[str, int], Meta(description="OK | WARNING | CRITICAL | UNKNOWN (or 0..3)")]
    started_at: Annotated[datetime, Meta(description="RFC 3339 with UTC offset",
                                         extra_json_schema={"format": "date-time"})]
    summary: Annotated[str, Meta(description="cut to 1024 characters; NUL and lone surrogates become U+FFFD")] = ""
    type: Annotated[str, Meta(max_length=MAX_TYPE_LEN)] = ""
    duration: Annotated[float, Meta(description="seconds, 0 <= duration < 86400")] = 0.0
    seq: Optional[Annotated[int, Meta(ge=0, le=MAX_INT8, description="per-agent sequence number")]] = None
    metrics: Annotated[list[MetricIn], Meta(max_length=MAX_METRICS)] = []
    details: Annotated[msgspec.Raw, Meta(extra_json_schema={
        "type": "object", "description": "free-form, at most 16 KiB and 8 levels deep"})] = msgspec.field(
        default_factory=lambda: _EMPTY)


class ConfigRefusedIn(msgspec.Struct, gc=False):
    """The last central config version the agent refused, and why."""

    version: Annotated[str, Meta(max_length=64)]
    error: Annotated[str, Meta(max_length=1024)] = ""


class AgentIn(msgspec.Struct, gc=False):
    """What the agent tells about itself. Advisory: a value that does not fit is ignored, never refused,
    so the agent block cannot stall a host's results."""

    host: Optional[str] = None
    version: Optional[Annotated[str, Meta(max_length=256)]] = None
    heartbeat: Optional[Annotated[float, Meta(ge=1, le=86400)]] = None
    dropped_total: Optional[Annotated[int, Meta(ge=0, le=MAX_INT8)]] = None
    labels: dict[str, str] = {}
    config_version: Optional[Annotated[str, Meta(max_length=64, description="central config version it runs")]] = None
    config_refused: Optional[ConfigRefusedIn] = None


class BatchIn(msgspec.Struct, gc=False):
    results: list[ResultIn]
    agent: Annotated[msgspec.Raw, Meta(extra_json_schema={"$ref": "AgentIn"})] = (
        msgspec.field(default_factory=lambda: _EMPTY))


decode_batch = msgspec.json.Decoder(BatchIn).decode
decode_result = msgspec.json.Decoder(ResultIn).decode
_AGENT_FIELDS = {f.name: f.type for f in msgspec.structs.fields(AgentIn)}


def agent_block(doc: Any) -> dict[str, Any]:
    """The agent block with every value that does not fit AgentIn left out (a plain one: as it is)."""
    if not isinstance(doc, dict):
        return {}
    try:
        msgspec.convert(doc, AgentIn)
        if not any(isinstance(v, str) and text_problem(v) for v in doc.values()):
            return doc
    except msgspec.ValidationError:
        pass
    out = {}
    for key, value in doc.items():
        kind = _AGENT_FIELDS.get(key)
        if kind is None:
            out[key] = value
            continue
        try:
            msgspec.convert(value, kind)
        except msgspec.ValidationError:
            continue
        if isinstance(value, str):
            value = clean_text(value)
        elif isinstance(value, dict):
            value = {clean_text(k): clean_text(v) for k, v in value.items()}  # labels, config_refused
        out[key] = value
    return out


# Text PostgreSQL cannot store (NUL) or UTF-8 cannot encode (a lone surrogate, which JSON can spell).
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
# Their JSON escapes in a request body; a body without them holds no such text (JSON forbids raw control
# characters and a raw surrogate is invalid UTF-8). Also matches escaped valid pairs: those take the
# careful path, which accepts them.
BAD_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
REPLACEMENT = "\ufffd"


def text_problem(value: str) -> Optional[str]:
    """Why this text cannot be stored, or None."""
    m = _BAD_TEXT.search(value)
    if m is None:
        return None
    return "contains a NUL character" if m.group() == "\x00" else "contains a lone UTF-16 surrogate"


def clean_text(value: Any) -> Any:
    """Text with NUL and lone surrogates replaced by U+FFFD (anything else unchanged)."""
    return _BAD_TEXT.sub(REPLACEMENT, value) if isinstance(value, str) else value


def clean_json(value: Any) -> Any:
    """A decoded JSON value with clean_text applied to every string and key."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


_AT = re.compile(r"^(.*?)(?: - at `\$(.*)`)?$", re.S)
_MISSING = re.compile(r"Object missing required field `([^`]+)`")


def explain(error: msgspec.ValidationError) -> tuple[str, str]:
    """(field path, message) for a ValidationError of one decoded ResultIn, worded as users know it."""
    text, path = _AT.match(str(error)).groups()  # type: ignore[union-attr]
    path = (path or "").lstrip(".")
    missing = _MISSING.match(text)
    if missing:
        name = missing.group(1)
        return (f"{path}.{name}" if path else name), f"missing field '{name}'"
    last = re.sub(r"\[\d+\]$", "", path.rsplit(".", 1)[-1])
    if not path:
        return "", "a result must be an object"
    if path in ("host", "check") and "length" in text:
        return path, f"{path} must be 1..{MAX_NAME_LEN} characters"
    if path == "metrics" and "length" in text:
        return path, f"more than {MAX_METRICS} metrics"
    if path.startswith("metrics[") and last == "name" and "length" in text:
        return path, f"metric name must be 1..{MAX_METRIC_NAME_LEN} characters"
    if last in ("value", "min", "max", "duration") and "out of range" in text:
        return path, f"{path} must be a finite number"
    if path == "seq":
        return path, f"seq must be an integer 0..{MAX_INT8}"
    return path, f"{path}: {text[0].lower()}{text[1:]}"


def batch_schema() -> dict[str, Any]:
    """The request body's JSON schema for the OpenAPI document, with its parts inlined."""
    (body, _), parts = msgspec.json.schema_components([BatchIn, AgentIn], ref_template="{name}")

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(parts[node["$ref"]])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node
    return inline(body)
