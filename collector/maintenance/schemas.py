"""API shapes of maintenance windows."""
from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from checks.model import SystemCode
from collector.maintenance.models import MaintenanceWindow
from collector.timefmt import LocalTime


class WindowIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    unit: str = Field("", max_length=128)
    host: str = Field("", max_length=128)
    system: Literal["", SystemCode] = ""


class WindowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    unit: str
    host: str
    system: str
    starts_at: LocalTime
    ends_at: LocalTime
    created_by: str
    cancelled_at: LocalTime


def window_out(w: MaintenanceWindow, tz: str) -> WindowOut:
    return WindowOut.model_validate(w, from_attributes=True, context={"tz": tz})
