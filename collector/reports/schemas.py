"""API shapes of monthly service reports."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field

from collector.timefmt import FromRow, LocalTime


class ReportIn(BaseModel):
    """Generate (or regenerate) a monthly service report now."""

    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    unit: str = Field("", max_length=128, description="客户单位; empty = every unit")
    format: Literal["xlsx", "pdf", "html", "docx"] = "xlsx"


class ReportOut(FromRow):
    id: int
    month: str
    unit: str
    format: str
    generated_at: LocalTime
    generated_by: str
    size: int
    sha256: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def download(self) -> str:
        """Path of the file."""
        return f"/api/v1/reports/{self.id}/download"
