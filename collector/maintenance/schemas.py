"""API shapes of maintenance windows."""
from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from checks.model import SystemCode
from collector.timefmt import FromRow, LocalTime


class WindowIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    unit: str = Field("", max_length=128)
    host: str = Field("", max_length=128)
    system: Literal["", SystemCode] = ""


class WindowOut(FromRow):
    id: int
    title: str
    unit: str
    host: str
    system: str
    starts_at: LocalTime
    ends_at: LocalTime
    created_by: str
    cancelled_at: LocalTime
