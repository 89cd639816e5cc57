"""API shapes of tickets (系统服务单)."""
from __future__ import annotations

from typing import Any

from collector.tickets import satisfaction
from collector.tickets.models import Ticket, TicketEvent
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
