from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, JSONType, UtcDateTime

METHODS = ("电话", "现场", "邮件", "问卷")


class Visit(Base):
    """A return visit (用户回访): the customer asked how the service went."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[date] = mapped_column(sa.Date, index=True)
    unit: Mapped[str] = mapped_column(sa.String(128), default="", index=True)  # 客户单位
    customer_name: Mapped[str] = mapped_column(sa.String(64), default="")
    method: Mapped[str] = mapped_column(sa.String(16))
    answers: Mapped[Any] = mapped_column(JSONType, default=list)  # [{"question", "answer"}]
    satisfaction: Mapped[str] = mapped_column(sa.String(16))  # 满意/基本满意/不满意
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    ticket_id: Mapped[Optional[int]] = mapped_column(sa.Integer)
    engineer_name: Mapped[str] = mapped_column(sa.String(64), default="")
    engineer_number: Mapped[str] = mapped_column(sa.String(32), default="")
    created_by: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
