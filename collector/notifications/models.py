from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, JSONType, UtcDateTime


class OutboxMessage(Base):
    """One notification for one channel, written in the transaction that caused it and delivered by a job,
    so a slow or failing channel never blocks ingest. Kept after delivery as the record of what was sent."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(64), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    payload: Mapped[Any] = mapped_column(JSONType)  # alerts.notify.Notification.to_dict()
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)  # pending|sent|folded|dead
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime, index=True)
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    ticket_id: Mapped[Optional[int]] = mapped_column(sa.Integer, index=True)
    digest_id: Mapped[Optional[int]] = mapped_column(sa.Integer)  # the digest this message was folded into
    dedup_key: Mapped[Optional[str]] = mapped_column(sa.String(200), unique=True)
    last_attempt_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)  # the latest send, ok or not

    __table_args__ = (sa.Index("ix_outbox_channel_id", "channel", "id"),)  # a channel's latest (0015)
