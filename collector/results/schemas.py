"""API shapes of results going out. Incoming batches: the wire model in collector.results.wire."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field

from checks.model import Status
from collector.hosts.schemas import HostOut
from collector.results.models import CheckState, ResultRow
from collector.timefmt import iso


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]] = []


class ResultOut(BaseModel):
    id: str
    seq: Optional[int]
    host: str
    check: str
    type: str
    system: str
    status: str = Field(description="OK, WARNING, CRITICAL or UNKNOWN")
    summary: str
    started_at: str
    duration: float
    metrics: Any = Field(description="the metrics as the agent sent them (name, value, unit, warn, crit, min, max)")
    details: Any
    received_at: str


class StateOut(BaseModel):
    host: str
    check: str
    type: str
    system: str
    status: str
    summary: str
    metrics: Any
    last_started_at: str
    since: str
    consecutive_bad: int


class HostDetailOut(HostOut):
    checks: list[StateOut]


def result_out(row: ResultRow, host: str, tz: str) -> ResultOut:
    return ResultOut(
        id=str(row.id), seq=row.seq, host=host, check=row.check, type=row.type, system=row.system,
        status=Status(row.status).name, summary=row.summary, started_at=iso(row.started_at, tz),
        duration=row.duration, metrics=row.metrics, details=row.details, received_at=iso(row.received_at, tz))


def state_out(s: CheckState, host: str, tz: str) -> StateOut:
    return StateOut(
        host=host, check=s.check, type=s.type, system=s.system, status=Status(s.status).name, summary=s.summary,
        metrics=s.metrics, last_started_at=iso(s.last_started_at, tz), since=iso(s.since, tz),
        consecutive_bad=s.consecutive_bad)
