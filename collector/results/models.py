from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, JSONType, StoredJSON, UtcDateTime


class ResultRow(Base):
    """One stored inspection result. On PostgreSQL the table is partitioned by month of started_at
    (see the migration), so the key includes started_at; a re-delivered result carries the same
    (started_at, id) and is dropped by ON CONFLICT DO NOTHING."""

    __tablename__ = "results"

    started_at: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    host_id: Mapped[int] = mapped_column(sa.Integer)
    check: Mapped[str] = mapped_column(sa.String(128))
    type: Mapped[str] = mapped_column(sa.String(32), default="")
    system: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[int] = mapped_column(sa.SmallInteger)
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    duration: Mapped[float] = mapped_column(sa.Float, default=0.0)
    metrics: Mapped[Any] = mapped_column(StoredJSON, default=list)
    details: Mapped[Any] = mapped_column(StoredJSON, default=dict)
    seq: Mapped[Optional[int]] = mapped_column(sa.BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)

    # time alone: the primary key's index (started_at first); ix_results_started was dropped in 0006
    __table_args__ = (
        sa.Index("ix_results_host_check_started", "host_id", "check", "started_at"),
        sa.Index("ix_results_host_started", "host_id", "started_at"),  # migration 0005
    )


class CheckState(Base):
    """The latest known state of each (host, check): what dashboards, /metrics and rules read."""

    __tablename__ = "check_states"

    host_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    check: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(32), default="")
    system: Mapped[str] = mapped_column(sa.String(16))
    status: Mapped[int] = mapped_column(sa.SmallInteger)
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    metrics: Mapped[Any] = mapped_column(JSONType, default=list)
    last_result_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    last_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    consecutive_bad: Mapped[int] = mapped_column(sa.Integer, default=0)
    consecutive_ok: Mapped[int] = mapped_column(sa.Integer, default=0)
    status_changes: Mapped[int] = mapped_column(sa.Integer, default=0)  # for flapping detection
    since: Mapped[datetime] = mapped_column(UtcDateTime)  # when the current status began

    # hosts not OK, and hosts running a system (and not OK in it): the host list's filters (0015)
    __table_args__ = (sa.Index("ix_check_states_status_host", "status", "host_id"),
                      sa.Index("ix_check_states_system_status_host", "system", "status", "host_id"))
