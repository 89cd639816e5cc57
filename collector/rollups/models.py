from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, JSONType, UtcDateTime


class ResultRollup(Base):
    """One (local day, host, check) of results, enough for the monthly report without raw results.

    Availability: each result covers the time until the next one (capped, see rollups.service);
    `observed_seconds` is the covered time, `bad_seconds` the part covered by non-OK results, and the
    `*_work_seconds` the same restricted to contracted service hours (the SLA calendar).
    `disk` holds, per mount, first/last/min/max of used_percent, free_bytes and size_bytes."""

    __tablename__ = "result_rollups"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    host_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    check: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    system: Mapped[str] = mapped_column(sa.String(16))
    type: Mapped[str] = mapped_column(sa.String(32), default="")
    runs: Mapped[int] = mapped_column(sa.Integer, default=0)
    ok: Mapped[int] = mapped_column(sa.Integer, default=0)
    warning: Mapped[int] = mapped_column(sa.Integer, default=0)
    critical: Mapped[int] = mapped_column(sa.Integer, default=0)
    unknown: Mapped[int] = mapped_column(sa.Integer, default=0)
    observed_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    bad_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    observed_work_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    bad_work_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    critical_events: Mapped[float] = mapped_column(sa.Float, default=0.0)
    warning_events: Mapped[float] = mapped_column(sa.Float, default=0.0)
    disk: Mapped[Any] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    # The report reads a month per (host, check) — for one unit: its hosts — and the disk rows by type.
    __table_args__ = (sa.Index("ix_result_rollups_host_check_day", "host_id", "check", "day"),
                      sa.Index("ix_result_rollups_type_day", "type", "day"))
