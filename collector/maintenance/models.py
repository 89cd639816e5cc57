from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, UtcDateTime


class MaintenanceWindow(Base):
    """During upgrades (维护窗口): results are kept, tickets are not opened for what the window covers.
    Empty selectors match everything; a window with only `unit` covers the whole customer unit."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    unit: Mapped[str] = mapped_column(sa.String(128), default="")
    host: Mapped[str] = mapped_column(sa.String(128), default="")
    system: Mapped[str] = mapped_column(sa.String(16), default="")
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_by: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
