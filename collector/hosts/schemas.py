"""API shapes of hosts (the enrolled agents)."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field

from collector.timefmt import FromRow, LocalTime


class EnrollIn(BaseModel):
    host: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    labels: dict[str, str] = {}
    unit: str = ""
    room: str = ""


class EnrollOut(BaseModel):
    host: str
    token: str = Field(description="shown once; stored only as a hash")


class HostOut(FromRow):
    name: str
    unit: str
    room: str
    labels: dict[str, Any]
    online: bool
    last_seen_at: LocalTime
    agent_version: str
    enrolled_at: LocalTime
    dropped_total: int
    rejected_total: int
    last_seq: Optional[int]
    # central configuration (templates): the version its agent runs, the last one it refused and why
    config_version: str
    config_refused_version: str
    config_refused_error: str
