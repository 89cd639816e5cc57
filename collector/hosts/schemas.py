"""API shapes of hosts (the enrolled agents)."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field

from collector.timefmt import iso


class EnrollIn(BaseModel):
    host: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    labels: dict[str, str] = {}
    unit: str = ""
    room: str = ""


class EnrollOut(BaseModel):
    host: str
    token: str = Field(description="shown once; stored only as a hash")


class HostOut(BaseModel):
    name: str
    unit: str
    room: str
    labels: dict[str, Any]
    online: bool
    last_seen_at: Optional[str]
    agent_version: str
    enrolled_at: Optional[str]
    dropped_total: int
    rejected_total: int
    last_seq: Optional[int]


def host_out(h: Any, tz: str) -> HostOut:
    return HostOut(name=h.name, unit=h.unit, room=h.room, labels=h.labels, online=h.online,
                   last_seen_at=iso(h.last_seen_at, tz), agent_version=h.agent_version,
                   enrolled_at=iso(h.enrolled_at, tz), dropped_total=h.dropped_total,
                   rejected_total=h.rejected_total, last_seq=h.last_seq)
