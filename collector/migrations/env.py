"""Alembic environment: the connection comes from collector.migrate (no alembic.ini needed)."""
from __future__ import annotations

from alembic import context

from collector.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through collector.migrate
    raise RuntimeError("run migrations through `xunjian-collector db upgrade`")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
