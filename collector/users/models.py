from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, UtcDateTime

ROLES = ("viewer", "engineer", "admin")


class User(Base):
    """An operator: engineer (工程师), viewer or admin. API keys and passwords are stored as hashes."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(64), default="")  # 姓名
    number: Mapped[str] = mapped_column(sa.String(32), default="")  # 编号
    role: Mapped[str] = mapped_column(sa.String(16))
    api_key_hash: Mapped[Optional[str]] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[Optional[str]] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
