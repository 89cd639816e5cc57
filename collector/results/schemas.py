"""API shapes of results. The wire shape of an incoming result is checks.model.Result (one definition);
ResultIn documents it in the OpenAPI description."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field

from checks.model import Status
from collector.results.models import CheckState, ResultRow
from collector.timefmt import iso


class MetricOut(BaseModel):
    name: str
    value: float
    unit: str = ""
    warn: Optional[str] = None
    crit: Optional[str] = None
    min: Optional[float] = None
    max: Optional[float] = None


class ResultIn(BaseModel):
    id: str = Field(description="UUID chosen by the agent; a re-delivered id is stored once")
    seq: Optional[int] = Field(None, description="per-agent sequence number")
    host: str
    check: str
    type: str = ""
    system: str = Field(description="voucher | seal | mq | os")
    status: str = Field(description="OK | WARNING | CRITICAL | UNKNOWN (or 0..3)")
    summary: str = ""
    started_at: str = Field(description="ISO 8601 with UTC offset")
    duration: float = 0.0
    metrics: list[MetricOut] = []
    details: dict[str, Any] = {}


class BatchIn(BaseModel):
    agent: dict[str, Any] = Field(default_factory=dict, description="host, version, labels, heartbeat, ...")
    results: list[ResultIn]


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]] = []


def result_out(row: ResultRow, host: str, tz: str) -> dict[str, Any]:
    return {
        "id": str(row.id), "seq": row.seq, "host": host, "check": row.check, "type": row.type,
        "system": row.system, "status": Status(row.status).name, "summary": row.summary,
        "started_at": iso(row.started_at, tz), "duration": row.duration, "metrics": row.metrics,
        "details": row.details, "received_at": iso(row.received_at, tz),
    }


def state_out(s: CheckState, host: str, tz: str) -> dict[str, Any]:
    return {
        "host": host, "check": s.check, "type": s.type, "system": s.system, "status": Status(s.status).name,
        "summary": s.summary, "metrics": s.metrics, "last_started_at": iso(s.last_started_at, tz),
        "since": iso(s.since, tz), "consecutive_bad": s.consecutive_bad,
    }
