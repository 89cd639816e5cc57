"""API shapes of tickets (系统服务单) and 7×24 support windows."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import AwareDatetime, BaseModel, Field

from checks.model import SystemCode
from collector.sla.policy import WINDOW_KIND_ZH
from collector.tickets import satisfaction
from collector.tickets.fields import Phone, Text64, Text128, Text300, Text2000, Text20000
from collector.tickets.models import SupportWindow, Ticket, TicketEvent
from collector.timefmt import iso

CHANNEL_LABELS = {"phone": "电话", "email": "邮件", "onsite": "现场", "remote": "远程", "auto": "自动"}
STATUS_LABELS = {"open": "待响应", "acknowledged": "处理中", "pending": "挂起", "resolved": "已解决",
                 "closed": "已关闭", "handed_off": "已转交"}
# Timeline events (ticket_events.kind); an unknown kind is shown as it is.
EVENT_LABELS = {"opened": "受理", "acknowledged": "响应", "assigned": "指派", "pending": "挂起", "resumed": "恢复计时",
                "resolved": "已解决", "closed": "关闭", "reopened": "重新打开", "edited": "修改",
                "severity": "升级严重程度", "recovered": "故障恢复", "sla_due_soon": "响应时限将至",
                "escalated": "超时升级", "calendar_recomputed": "重算响应时限", "handed_off": "转交",
                "support_phone": "电话支持", "support_remote": "远程支持", "support_onsite": "现场支持",
                "resolved_at": "修改解决时间", "window": "7×24 窗口"}
SUPPORT_LABELS = {"phone": "电话支持", "remote": "远程支持", "onsite": "现场支持"}
SEVERITY_LABELS = {"critical": "严重", "warning": "警告", "info": "提示"}


def ticket_out(t: Ticket, tz: str, response_clock: str = "") -> dict[str, Any]:
    """`response_clock`: what its due time counts (collector.tickets.deadlines.response_clock)."""
    return {
        "id": t.id, "number": t.number, "status": t.status, "status_label": STATUS_LABELS.get(t.status, t.status),
        "severity": t.severity, "urgent": t.urgent, "source": t.source, "channel": t.channel,
        "channel_label": CHANNEL_LABELS.get(t.channel, t.channel), "system": t.system,
        "host": t.host, "check": t.check, "title": t.title, "description": t.description,
        "resolution": t.resolution, "customer_name": t.customer_name, "customer_unit": t.customer_unit,
        "room": t.room, "contact_person": t.contact_person, "contact_phone": t.contact_phone,
        "handed_to": t.handed_to, "handoff_note": t.handoff_note, "handed_at": iso(t.handed_at, tz),
        "support_level": t.support_level, "support_label": SUPPORT_LABELS.get(t.support_level, ""),
        "response_clock": response_clock, "window_id": t.window_id,
        "engineer_name": t.engineer_name, "engineer_number": t.engineer_number,
        "assignee_id": t.assignee_id,
        "reported_at": iso(t.reported_at, tz), "opened_at": iso(t.opened_at, tz),
        "acknowledged_at": iso(t.acknowledged_at, tz), "resolved_at": iso(t.resolved_at, tz),
        "closed_at": iso(t.closed_at, tz), "recovered_at": iso(t.recovered_at, tz),
        "response_due_at": iso(t.response_due_at, tz), "response_sla": t.response_sla,
        "calendar_fallback": bool(t.calendar_fallback),
        "occurrences": t.occurrences, "last_occurrence_at": iso(t.last_occurrence_at, tz),
        "last_summary": t.last_summary, "satisfaction": t.satisfaction,
        "satisfaction_label": satisfaction.label(t.satisfaction) if t.status == "closed" or t.satisfaction else None,
        "satisfaction_comment": t.satisfaction_comment, "previous_ticket_id": t.previous_ticket_id,
        "fault_key": t.fault_key, "version": t.version,
    }


def event_out(e: TicketEvent, tz: str, names: dict[str, str] | None = None) -> dict[str, Any]:
    """`names`: login name → display name (actor_name falls back to the login name)."""
    return {"at": iso(e.at, tz), "actor": e.actor, "actor_name": (names or {}).get(e.actor, e.actor),
            "kind": e.kind, "label": EVENT_LABELS.get(e.kind, e.kind), "text": e.text, "data": e.data}


Status = Literal["open", "acknowledged", "pending", "resolved", "closed", "handed_off"]
Channel = Literal["phone", "email", "onsite", "remote", "auto"]
Severity = Literal["critical", "warning", "info"]


class TicketOut(BaseModel):
    """One 系统服务单 (times ISO 8601 in the service's time zone)."""

    id: int
    number: str
    status: str
    status_label: str
    severity: str
    urgent: bool
    source: str
    channel: str
    channel_label: str
    system: str
    host: str
    check: str
    title: str
    description: str
    resolution: str
    customer_name: str
    customer_unit: str
    room: str
    contact_person: str = Field(description="联系人")
    contact_phone: str = Field(description="联系电话")
    engineer_name: str
    engineer_number: str
    assignee_id: Optional[int]
    reported_at: Optional[str] = Field(description="热线时间")
    opened_at: Optional[str]
    acknowledged_at: Optional[str]
    resolved_at: Optional[str] = Field(description="解决问题时间 (entered or the resolve time)")
    closed_at: Optional[str]
    recovered_at: Optional[str]
    handed_to: str = Field(description="转交部门 (status handed_off)")
    handoff_note: str
    handed_at: Optional[str]
    support_level: str = Field(description="highest support given: phone | remote | onsite | empty")
    support_label: str
    response_due_at: Optional[str]
    response_sla: Optional[str] = Field(description="met | breached; null while unjudged and for handed_off")
    response_clock: str = Field(description="what the due time counts: 工作时间, 7×24, or 7×24（…窗口）")
    window_id: Optional[int] = Field(description="the 7×24 support window the case was reported in")
    calendar_fallback: bool
    occurrences: int
    last_occurrence_at: Optional[str]
    last_summary: str
    satisfaction: Optional[str]
    satisfaction_label: Optional[str]
    satisfaction_comment: str
    previous_ticket_id: Optional[int]
    fault_key: Optional[str]
    version: int


class EventOut(BaseModel):
    at: Optional[str]
    actor: str
    actor_name: str
    kind: str
    label: str
    text: str
    data: dict[str, Any]


class TicketDetail(TicketOut):
    sla_state: Optional[str]
    timeline: list[EventOut]


class TicketPage(BaseModel):
    items: list[TicketOut]
    next: Optional[str]


class TicketIn(BaseModel):
    """A case taken by phone, e-mail, on site or remotely (系统服务单). The engineer on the line is the
    caller (their name and number come from the login) unless `engineer` names a colleague."""

    channel: Channel
    urgent: bool = False
    reported_at: Optional[AwareDatetime] = Field(None, description="热线时间; default now")
    customer_name: Text64 = ""
    customer_unit: Text128 = ""
    room: Text64 = ""
    contact_person: Text64 = Field("", description="联系人")
    contact_phone: Phone = Field("", description="联系电话: digits, leading +, spaces, hyphens, extension (转/ext)")
    description: Annotated[Text20000, Field(min_length=1)]
    system: SystemCode = "os"
    host: Text128 = ""
    severity: Severity = "warning"
    title: Text300 = ""
    engineer: Optional[Text64] = Field(None, description="user name of the engineer to assign (default: the caller)")


class TicketPatch(BaseModel):
    """Workflow: set `status` (acknowledged, pending, resolved + resolution [+ resolved_at], closed +
    satisfaction, open to reopen), `assignee`, `resolved_at` of a resolved case, or correct fields.
    `version` guards against overwriting someone else's change."""

    status: Optional[Literal["open", "acknowledged", "pending", "resolved", "closed"]] = None
    assignee: Optional[Text64] = None
    resolution: Optional[Text20000] = None
    resolved_at: Optional[AwareDatetime] = Field(
        None, description="解决问题时间: not in the future, not before 热线时间; audited on the timeline")
    satisfaction: Optional[Literal["满意", "基本满意", "不满意", "未评价"]] = Field(
        None, description="required to close a manual case (a rating, or explicitly 未评价); an automatic ticket "
                          "closed without it is 未评价")
    satisfaction_comment: Optional[Text2000] = None
    note: Text2000 = ""
    version: Optional[int] = None
    customer_name: Optional[Text64] = None
    customer_unit: Optional[Text128] = None
    room: Optional[Text64] = None
    contact_person: Optional[Text64] = None
    contact_phone: Optional[Phone] = None
    description: Optional[Text20000] = None
    title: Optional[Text300] = None
    system: Optional[SystemCode] = None
    host: Optional[Text128] = None
    severity: Optional[Severity] = None
    urgent: Optional[bool] = None
    channel: Optional[Channel] = None
    reported_at: Optional[AwareDatetime] = None


class SupportIn(BaseModel):
    """Support given on the case: 电话支持 → 远程支持 → 现场支持 (the first one on an open case is the response)."""

    step: Literal["phone", "remote", "onsite"]
    note: Text2000 = ""
    version: Optional[int] = None


class HandoffIn(BaseModel):
    """Not this system's problem: the case is handed to another department and ends as 已转交, outside our
    response SLA."""

    department: Annotated[Text128, Field(min_length=1)] = Field(description="转交部门")
    note: Text2000 = ""
    version: Optional[int] = None


class SupportWindowIn(BaseModel):
    """Cases reported inside the window (and matching its unit/host/system; empty matches all) get their
    response deadline on clock hours until the window ends."""

    kind: Literal["incident", "upgrade"] = Field(description="incident 故障处理 | upgrade 系统升级")
    title: Annotated[Text300, Field(min_length=1, max_length=200)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    unit: Text128 = ""
    host: Text128 = ""
    system: Literal["", SystemCode] = ""


class SupportWindowOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    title: str
    unit: str
    host: str
    system: str
    starts_at: Optional[str]
    ends_at: Optional[str]
    created_by: str
    closed_by: str
    closed_at: Optional[str]


class SupportWindowPage(BaseModel):
    items: list[SupportWindowOut]
    next: Optional[str]


def window_out(w: SupportWindow, tz: str) -> dict[str, Any]:
    return {"id": w.id, "kind": w.kind, "kind_label": WINDOW_KIND_ZH.get(w.kind, w.kind), "title": w.title,
            "unit": w.unit, "host": w.host, "system": w.system, "starts_at": iso(w.starts_at, tz),
            "ends_at": iso(w.ends_at, tz), "created_by": w.created_by, "closed_by": w.closed_by,
            "closed_at": iso(w.closed_at, tz)}
