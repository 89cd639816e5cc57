from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, deferred, mapped_column

from collector.db import Base, UtcDateTime

FORMATS = ("xlsx", "pdf", "html", "docx")
FORMS = "forms"  # the month's 系统服务单 (a PDF), stored beside the report for the handover
MEDIA_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "pdf": "application/pdf", "html": "text/html; charset=utf-8", FORMS: "application/pdf",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def file_name(month: str, unit: str, fmt: str) -> str:
    """系统服务月报-2026-09-某市财政局.pdf, 系统服务单-2026-09-某市财政局.pdf; a unit's control characters
    and path separators become "_" (a download's or an attachment's name, never a path or a header break)."""
    safe_unit = "".join("_" if ord(c) < 32 or c in '/\\\x7f' else c for c in unit)
    tail = f"{month}{'-' + safe_unit if unit else ''}"
    return f"系统服务单-{tail}.pdf" if fmt == FORMS else f"系统服务月报-{tail}.{fmt}"


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


class ReportFailure(Base):  # an automatic report that failed: collector.reports.failures records and clears it
    __tablename__ = "report_failures"

    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    unit: Mapped[str] = mapped_column(sa.String(128), primary_key=True)  # '' = overall
    error: Mapped[str] = mapped_column(sa.Text)
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
