from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, JSONType, UtcDateTime


class CalendarImport(Base):
    """One import of a year's holiday arrangement; the newest row of a year is in force."""

    __tablename__ = "calendar_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(sa.Integer, index=True)
    format: Mapped[str] = mapped_column(sa.String(16))  # notice | yaml
    source: Mapped[str] = mapped_column(sa.String(300))  # the notice's title or the schedule's `source`
    source_text: Mapped[str] = mapped_column(sa.Text)  # exactly as pasted / read
    holidays: Mapped[Any] = mapped_column(JSONType)  # [["2027-02-06", "春节"], ...]
    workdays: Mapped[Any] = mapped_column(JSONType)  # 调休 weekend working days, same shape
    imported_by: Mapped[str] = mapped_column(sa.String(64))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    tickets_recomputed: Mapped[int] = mapped_column(sa.Integer, default=0)
