"""API shapes of tickets (系统服务单)."""
from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, computed_field

from collector.tickets import satisfaction
from collector.tickets.models import Ticket, TicketEvent
from collector.timefmt import LocalTime, iso

CHANNEL_LABELS = {"phone": "电话", "email": "邮件", "onsite": "现场", "remote": "远程", "auto": "自动"}
STATUS_LABELS = {"open": "待响应", "acknowledged": "处理中", "pending": "挂起", "resolved": "已解决",
                 "closed": "已关闭"}
# Timeline events (ticket_events.kind); an unknown kind is shown as it is.
EVENT_LABELS = {"opened": "受理", "acknowledged": "响应", "assigned": "指派", "pending": "挂起", "resumed": "恢复计时",
                "resolved": "已解决", "closed": "关闭", "reopened": "重新打开", "edited": "修改",
                "severity": "升级严重程度", "recovered": "故障恢复", "sla_due_soon": "响应时限将至",
                "escalated": "超时升级", "calendar_recomputed": "重算响应时限"}
SEVERITY_LABELS = {"critical": "严重", "warning": "警告", "info": "提示"}


class TicketOut(BaseModel):
    """A ticket as the API shows it: read from the ORM row, times in the service's zone (context `tz`)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    status: str
    severity: str
    urgent: bool
    source: str
    channel: str
    system: str
    host: str
    check: str
    title: str
    description: str
    resolution: str
    customer_name: str
    customer_unit: str
    room: str
    engineer_name: str
    engineer_number: str
    assignee_id: Optional[int]
    reported_at: LocalTime
    opened_at: LocalTime
    acknowledged_at: LocalTime
    resolved_at: LocalTime
    closed_at: LocalTime
    recovered_at: LocalTime
    response_due_at: LocalTime
    response_sla: Optional[str] = Field(description="met or breached once decided")
    calendar_fallback: Annotated[bool, BeforeValidator(bool)]
    occurrences: int
    last_occurrence_at: LocalTime
    last_summary: str
    satisfaction: Optional[str]
    satisfaction_comment: str
    previous_ticket_id: Optional[int]
    fault_key: Optional[str]
    version: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def satisfaction_label(self) -> Optional[str]:
        return satisfaction.label(self.satisfaction) if self.status == "closed" or self.satisfaction else None


class EventOut(BaseModel):
    at: Optional[str]
    actor: str
    actor_name: str
    kind: str
    label: str
    text: str
    data: Any


class TicketDetailOut(TicketOut):
    sla_state: str = Field(description="met, breached, pending or due_soon")
    timeline: list[EventOut]


def ticket_out(t: Ticket, tz: str) -> TicketOut:
    return TicketOut.model_validate(t, from_attributes=True, context={"tz": tz})


def event_out(e: TicketEvent, tz: str, names: dict[str, str] | None = None) -> EventOut:
    """`names`: login name → display name (actor_name falls back to the login name)."""
    return EventOut(at=iso(e.at, tz), actor=e.actor, actor_name=(names or {}).get(e.actor, e.actor),
                    kind=e.kind, label=EVENT_LABELS.get(e.kind, e.kind), text=e.text, data=e.data)
