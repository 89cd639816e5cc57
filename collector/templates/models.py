"""Templates, their immutable versions, the rollout state, the audit and the served effective configs."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, JSONType, UtcDateTime


class Template(Base):
    """One template by name with its rollout state: hosts in the first `percent` buckets (hash of the host
    name) run `current_version`, the others `previous_version` (none: the template does not apply to them)."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    current_version: Mapped[int] = mapped_column(sa.Integer)
    previous_version: Mapped[Optional[int]] = mapped_column(sa.Integer)
    percent: Mapped[int] = mapped_column(sa.Integer, default=100)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(sa.String(64))


class TemplateVersion(Base):
    """What one `apply` stored; never changed afterwards."""

    __tablename__ = "template_versions"
    __table_args__ = (sa.UniqueConstraint("template_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(sa.ForeignKey("templates.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    yaml_text: Mapped[str] = mapped_column(sa.Text)  # as applied, comments included
    match: Mapped[dict[str, Any]] = mapped_column(JSONType)  # label -> value; {} matches every host
    priority: Mapped[int] = mapped_column(sa.Integer, default=0)
    checks: Mapped[list[Any]] = mapped_column(JSONType)  # the validated `checks:` mappings as written
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TemplateAudit(Base):
    """Every change: apply (a new version or a new share), rollback; who, when and the unified diff."""

    __tablename__ = "template_audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    template: Mapped[str] = mapped_column(sa.String(128), index=True)
    action: Mapped[str] = mapped_column(sa.String(16))  # apply | percent | rollback
    actor: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    from_version: Mapped[Optional[int]] = mapped_column(sa.Integer)
    to_version: Mapped[int] = mapped_column(sa.Integer)
    percent: Mapped[int] = mapped_column(sa.Integer)
    diff: Mapped[str] = mapped_column(sa.Text, default="")


class TemplateGeneration(Base):
    """One row whose counter moves with every template change, in the change's transaction: every
    collector process compares it with the generation its cached configs were built from. Its row lock
    also serialises changes across processes."""

    __tablename__ = "template_generation"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ServedConfig(Base):
    """An effective config version once served, and the template versions it is made of, so a host's
    reported `config_version` tells which version of each template it runs."""

    __tablename__ = "template_configs"

    version: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    sources: Mapped[dict[str, Any]] = mapped_column(JSONType)  # template name -> version number
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
