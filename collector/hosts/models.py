from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, JSONType, UtcDateTime


class Host(Base):
    """A client server with an enrolled agent (or inspected agentlessly)."""

    __tablename__ = "hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    unit: Mapped[str] = mapped_column(sa.String(128), default="", index=True)  # 客户单位
    room: Mapped[str] = mapped_column(sa.String(64), default="")  # 房间号
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    token_hash: Mapped[Optional[str]] = mapped_column(sa.String(64), unique=True)
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    agent_version: Mapped[str] = mapped_column(sa.String(32), default="")
    heartbeat_seconds: Mapped[float] = mapped_column(sa.Float, default=30.0)
    online: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    last_seq: Mapped[Optional[int]] = mapped_column(sa.BigInteger)
    dropped_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rejected_total: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")  # refused for good
    # What the agent last said about its central config (GET /api/v1/agent/config): the version it runs
    # and the last version it refused with why ("" for none).
    config_version: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    config_refused_version: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    config_refused_error: Mapped[str] = mapped_column(sa.String(1024), default="", server_default="")
