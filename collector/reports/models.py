from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column

from collector.db import Base, UtcDateTime

FORMATS = ("xlsx", "pdf", "html", "docx")


class Report(Base):
    """A generated monthly service report (系统服务月报). The bytes live in the database so every
    collector process can serve them; (month, unit, format) is unique so generation is idempotent."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM
    unit: Mapped[str] = mapped_column(sa.String(128), default="")  # '' = overall
    format: Mapped[str] = mapped_column(sa.String(8))
    generated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    generated_by: Mapped[str] = mapped_column(sa.String(64), default="")  # user name or "system"
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes] = deferred(mapped_column(sa.LargeBinary))

    __table_args__ = (sa.UniqueConstraint("month", "unit", "format", name="uq_reports_month_unit_format"),)
