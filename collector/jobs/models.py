from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, UtcDateTime


class JobRun(Base):
    """When each periodic job last ran, shared by every collector process."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_run_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    last_ok_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    runner: Mapped[str] = mapped_column(sa.String(128), default="")  # host:pid that ran it last
    failures: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")  # failed runs, ever
