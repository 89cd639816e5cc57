from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from collector.db import Base, JSONType, UtcDateTime

# handed_off (已转交): not this system's problem, passed to another department; final, and outside our
# response SLA (no verdict, no breach).
STATUSES = ("open", "acknowledged", "pending", "resolved", "closed", "handed_off")
ACTIVE_STATUSES = ("open", "acknowledged", "pending")
# Support given on a call, in the contract's order of escalation (电话 → 远程 → 现场).
SUPPORT_STEPS = ("phone", "remote", "onsite")
AUTO_SOURCES = ("check", "agent", "alertmanager")  # opened by the product itself, no customer on the line
CHANNELS = ("phone", "email", "onsite", "remote", "auto")
SEVERITIES = ("critical", "warning", "info")


class Ticket(Base):
    """A service record (系统服务单), opened from an anomaly, an alert or a call."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(32), unique=True)
    # What fault this ticket is about ("check:<host>:<check>", "agent:<host>", "am:<fingerprint>").
    fault_key: Mapped[Optional[str]] = mapped_column(sa.String(300), index=True)
    # Equal to fault_key while the ticket is active and NULL after: a unique column, so the database
    # itself guarantees one active ticket per fault across collector processes.
    active_fault_key: Mapped[Optional[str]] = mapped_column(sa.String(300), unique=True)
    source: Mapped[str] = mapped_column(sa.String(16))  # check | agent | alertmanager | manual
    channel: Mapped[str] = mapped_column(sa.String(16), default="auto")
    status: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    severity: Mapped[str] = mapped_column(sa.String(16), default="warning")
    urgent: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    system: Mapped[str] = mapped_column(sa.String(16), default="os")
    host_id: Mapped[Optional[int]] = mapped_column(sa.Integer, index=True)
    host: Mapped[str] = mapped_column(sa.String(128), default="")
    check: Mapped[str] = mapped_column(sa.String(128), default="")
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")  # 问题描述
    resolution: Mapped[str] = mapped_column(sa.Text, default="")  # 解决描述
    customer_name: Mapped[str] = mapped_column(sa.String(64), default="")  # 客户姓名
    customer_unit: Mapped[str] = mapped_column(sa.String(128), default="", index=True)  # 客户单位
    room: Mapped[str] = mapped_column(sa.String(64), default="")  # 客户房间号
    contact_person: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")  # 联系人
    contact_phone: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")  # 联系电话
    handed_to: Mapped[str] = mapped_column(sa.String(128), default="", server_default="")  # 转交部门
    handoff_note: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    handed_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    # The highest support step given so far (phone | remote | onsite), "" before any.
    support_level: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    # The 7×24 window (support_windows) the ticket was reported in; its kind and end are copied so the
    # due time can be computed without a join (kept in step when the window changes).
    window_id: Mapped[Optional[int]] = mapped_column(sa.Integer, index=True)
    window_kind: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    window_ends_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)  # 热线时间
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    acknowledged_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    resolved_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)  # 解决问题时间
    closed_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    recovered_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    response_due_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    response_sla: Mapped[Optional[str]] = mapped_column(sa.String(16))  # met | breached
    # response_due_at was computed on the Mon–Fri fallback (a year without holiday data)
    calendar_fallback: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    paused_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    pending_since: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    pauses: Mapped[Any] = mapped_column(JSONType, default=list)
    escalated_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    due_soon_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)  # when "due soon" was announced
    resolution_due_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(sa.String(64), default="")
    assignee_id: Mapped[Optional[int]] = mapped_column(sa.Integer, index=True)
    engineer_name: Mapped[str] = mapped_column(sa.String(64), default="")  # 姓名
    engineer_number: Mapped[str] = mapped_column(sa.String(32), default="")  # 编号
    satisfaction: Mapped[Optional[str]] = mapped_column(sa.String(16))  # 满意/基本满意/不满意
    satisfaction_comment: Mapped[str] = mapped_column(sa.Text, default="")
    occurrences: Mapped[int] = mapped_column(sa.Integer, default=1)
    last_occurrence_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_status: Mapped[Optional[int]] = mapped_column(sa.SmallInteger)
    last_summary: Mapped[str] = mapped_column(sa.Text, default="")
    previous_ticket_id: Mapped[Optional[int]] = mapped_column(sa.Integer)
    labels: Mapped[Any] = mapped_column(JSONType, default=dict)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)


class TicketEvent(Base):
    """The timeline: every change of a ticket, who made it and when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(sa.String(64))  # user name, or "system"
    kind: Mapped[str] = mapped_column(sa.String(32))
    text: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[Any] = mapped_column(JSONType, default=dict)


class Counter(Base):
    """Named counters for human ticket numbers (FW-202611-0001), incremented atomically."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class SupportWindow(Base):
    """A 7×24 window (故障处理 while a fault is handled, 系统升级 while an upgrade runs): cases reported
    inside it get their response deadline on clock hours, as the contract promises, instead of working
    hours. Unlike a MaintenanceWindow it opens no fewer tickets. Empty selectors match everything."""

    __tablename__ = "support_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # incident | upgrade
    title: Mapped[str] = mapped_column(sa.String(200), default="")
    unit: Mapped[str] = mapped_column(sa.String(128), default="")
    host: Mapped[str] = mapped_column(sa.String(128), default="")
    system: Mapped[str] = mapped_column(sa.String(16), default="")
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    created_by: Mapped[str] = mapped_column(sa.String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_by: Mapped[str] = mapped_column(sa.String(64), default="")
    closed_at: Mapped[Optional[datetime]] = mapped_column(UtcDateTime)  # closed early: ends_at moved here
