"""The life of a ticket: manual cases, and open → acknowledged → resolved → closed with pending, assign,
reopen. Every change lands in the timeline with who and when."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy.orm import Session

from alerts.notify import Notification
from collector.notifications import service as notifications
from collector.runtime import Runtime
from collector.tickets import satisfaction as satisfaction_
from collector.tickets import service
from collector.tickets import windows as support
from collector.tickets.deadlines import record_response, set_due
from collector.tickets.models import ACTIVE_STATUSES, SUPPORT_STEPS, Ticket
from collector.tickets.numbers import next_number
from collector.tickets.schemas import CHANNEL_LABELS, SUPPORT_LABELS
from collector.tickets.schemas import STATUS_LABELS as STATUS_ZH
from collector.timefmt import text_time
from collector.users import service as users
from collector.users.models import User

SATISFACTION = satisfaction_.RATINGS
EDITABLE = ("customer_name", "customer_unit", "room", "contact_person", "contact_phone", "description",
            "title", "system", "host", "severity",
            "urgent", "channel", "reported_at", "resolution", "satisfaction_comment", "satisfaction")


FIELD_LABELS = {"customer_name": "客户姓名", "customer_unit": "客户单位", "room": "房间号", "contact_person": "联系人",
                "contact_phone": "联系电话", "description": "问题描述",
                "title": "标题", "system": "系统", "host": "主机", "severity": "严重程度", "urgent": "紧急",
                "channel": "渠道", "reported_at": "热线时间", "resolution": "解决描述",
                "satisfaction_comment": "客户意见", "satisfaction": "客户满意度"}


class WorkflowError(ValueError):
    """A change the workflow does not allow; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def create_manual(*, db: Session, rt: Runtime, actor: User, now: datetime, number_prefix: str, tz: str,
                  data: dict[str, Any]) -> Ticket:
    """A case taken by phone, e-mail, on site or remotely (or entered by hand for an automatic one)."""
    reported_at = data.get("reported_at") or now
    if reported_at > now:
        raise WorkflowError("热线时间不能晚于当前时间", 422)
    number = next_number(db=db, prefix=number_prefix, at=reported_at, tz=tz)
    ticket = Ticket(
        number=number, fault_key=None, active_fault_key=None, source="manual", channel=data["channel"],
        status="open", severity=data.get("severity") or "warning", urgent=bool(data.get("urgent")),
        system=data.get("system") or "os", host=data.get("host") or "", check="",
        title=(data.get("title") or data["description"].splitlines()[0])[:300], description=data["description"],
        resolution="", customer_name=data.get("customer_name") or "", customer_unit=data.get("customer_unit") or "",
        room=data.get("room") or "", contact_person=data.get("contact_person") or "",
        contact_phone=data.get("contact_phone") or "", handed_to="", handoff_note="", support_level="",
        window_kind="", reported_at=reported_at, opened_at=now, last_occurrence_at=reported_at,
        occurrences=1, pauses=[], labels={}, created_by=actor.name, satisfaction_comment="",
        engineer_name="", engineer_number="", last_summary="", paused_seconds=0.0, version=1)
    db.add(ticket)
    support.attach(db=db, ticket=ticket)
    set_due(ticket, rt, now)
    db.flush()
    contact = " ".join(x for x in (ticket.contact_person, ticket.contact_phone) if x)
    taker = f"{actor.display_name or actor.name}" + (f" ({actor.number})" if actor.number else "")
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="opened",
                      text=f"{_channel_zh(ticket.channel)}受理 (接听: {taker}): {ticket.description}"
                           + (f"\n联系人: {contact}" if contact else ""))
    # The engineer on the line is the one logged in (their name and number go on the 系统服务单),
    # unless the case is passed straight to a colleague.
    engineer = data.get("engineer")
    if engineer is None and users.has_role(actor, "engineer"):
        _set_engineer(ticket, actor)  # stated in the 受理 entry, no separate assignment
    elif engineer is not None:
        assign(db=db, ticket=ticket, engineer=engineer, actor=actor, now=now)
    announce_opened(db=db, rt=rt, ticket=ticket, now=now)
    return ticket


def after_auto_open(*, db: Session, rt: Runtime, ticket: Ticket, now: datetime) -> None:
    """An automatic ticket (check, agent offline, Alertmanager) starts its SLA clock and is announced."""
    support.attach(db=db, ticket=ticket)
    set_due(ticket, rt, now)
    announce_opened(db=db, rt=rt, ticket=ticket, now=now)


def announce_opened(*, db: Session, rt: Runtime, ticket: Ticket, now: datetime) -> None:
    due = ticket.response_due_at.astimezone(rt.calendar.tz).strftime("%m-%d %H:%M") if ticket.response_due_at else "-"
    notifications.enqueue(db=db, config=rt.notify, now=now, ticket_id=ticket.id,
                          dedup_key=f"opened:{ticket.number}", notification=Notification(
                              kind="ticket_opened", title=f"{ticket.number} {ticket.title}",
                              text=f"{ticket.description}\n\n响应时限: {due}", severity=ticket.severity,
                              unit=ticket.customer_unit, system=ticket.system, host=ticket.host,
                              ticket_no=ticket.number))


def announce_resolved(*, db: Session, rt: Runtime, ticket: Ticket, now: datetime) -> None:
    notifications.enqueue(db=db, config=rt.notify, now=now, ticket_id=ticket.id,
                          dedup_key=f"resolved:{ticket.number}:{ticket.version}", notification=Notification(
                              kind="ticket_resolved", title=f"{ticket.number} 已解决: {ticket.title}",
                              text=ticket.resolution, severity="info", unit=ticket.customer_unit,
                              system=ticket.system, host=ticket.host, ticket_no=ticket.number))


def _channel_zh(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel)


def acknowledge(*, db: Session, ticket: Ticket, actor: User, now: datetime, note: str = "",
                rt: Optional[Runtime] = None) -> None:
    if ticket.status == "pending":
        # The customer answered: the clock restarts (due time pushed by the pause), and a ticket that
        # was pending before anyone responded is acknowledged now.
        resume(db=db, ticket=ticket, actor=actor, now=now, note=note, rt=rt)
        if ticket.status != "open":
            return
    if ticket.status != "open":
        raise WorkflowError(f"服务单状态为 {ticket.status}, 不能响应")
    ticket.status = "acknowledged"
    record_response(ticket, now)
    if not ticket.engineer_name:
        _set_engineer(ticket, actor)
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="acknowledged",
                      text=note or "工程师已响应", data={"response_sla": ticket.response_sla})


def assign(*, db: Session, ticket: Ticket, engineer: Optional[User], actor: User, now: datetime) -> None:
    if ticket.status == "closed":
        raise WorkflowError("已关闭的服务单不能指派")
    if engineer is not None and not users.has_role(engineer, "engineer"):
        raise WorkflowError(f"用户 {engineer.name} 不是工程师, 不能指派", 422)
    before = ticket.engineer_name
    if engineer is None:
        ticket.assignee_id, ticket.engineer_name, ticket.engineer_number = None, "", ""
    else:
        _set_engineer(ticket, engineer)
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="assigned",
                      text=f"指派: {before or '-'} → {ticket.engineer_name or '-'}")


def _set_engineer(ticket: Ticket, user: User) -> None:
    ticket.assignee_id = user.id
    ticket.engineer_name = user.display_name or user.name
    ticket.engineer_number = user.number


def pend(*, db: Session, ticket: Ticket, actor: User, now: datetime, rt: Runtime, note: str = "") -> None:
    """Waiting for the customer: the clocks stop until the ticket resumes."""
    if ticket.status not in ("open", "acknowledged"):
        raise WorkflowError(f"服务单状态为 {ticket.status}, 不能挂起")
    ticket.pending_since = now
    ticket.pauses = [*(ticket.pauses or []), [now.isoformat(), None]]
    ticket.labels = {**(ticket.labels or {}), "status_before_pending": ticket.status}
    ticket.status = "pending"
    set_due(ticket, rt, now)
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="pending",
                      text=note or "挂起 (等待客户), 计时暂停")


def resume(*, db: Session, ticket: Ticket, actor: User, now: datetime, note: str = "",
           rt: Optional[Runtime] = None) -> None:
    if ticket.status != "pending":
        raise WorkflowError(f"服务单状态为 {ticket.status}, 不能恢复计时")
    pauses = [list(p) for p in ticket.pauses or []]
    if pauses and pauses[-1][1] is None:
        pauses[-1][1] = now.isoformat()
    ticket.pauses = pauses
    if ticket.pending_since is not None:
        ticket.paused_seconds += (now - ticket.pending_since).total_seconds()
    ticket.pending_since = None
    labels = dict(ticket.labels or {})
    ticket.status = labels.pop("status_before_pending", "acknowledged" if ticket.acknowledged_at else "open")
    ticket.labels = labels
    if rt is not None:
        set_due(ticket, rt, now)
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="resumed", text=note or "恢复计时")


def resolve(*, db: Session, ticket: Ticket, actor: User, now: datetime, resolution: str, rt: Runtime,
            resolved_at: Optional[datetime] = None) -> None:
    """`resolved_at`: 解决问题时间 as the engineer enters it (default now); a time other than now is
    audited on the timeline."""
    if ticket.status not in ACTIVE_STATUSES:
        raise WorkflowError(f"服务单状态为 {ticket.status}, 不能解决")
    if not resolution.strip():
        raise WorkflowError("解决服务单需要填写解决描述", 422)
    if resolved_at is not None:
        check_resolved_at(ticket, resolved_at, now)
    if ticket.status == "pending":
        resume(db=db, ticket=ticket, actor=actor, now=now, rt=rt)
    record_response(ticket, now)
    if not ticket.engineer_name:
        _set_engineer(ticket, actor)
    ticket.status = "resolved"
    ticket.resolution = resolution.strip()
    ticket.resolved_at = now
    ticket.active_fault_key = None
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="resolved", text=ticket.resolution)
    if resolved_at is not None and resolved_at != now:
        set_resolved_at(db=db, ticket=ticket, actor=actor, now=now, value=resolved_at, tz=rt.calendar.tz)
    announce_resolved(db=db, rt=rt, ticket=ticket, now=now)


def check_resolved_at(ticket: Ticket, value: datetime, now: datetime) -> None:
    if value > now:
        raise WorkflowError("解决问题时间不能晚于当前时间", 422)
    if value < ticket.reported_at:
        raise WorkflowError("解决问题时间不能早于热线时间", 422)


def set_resolved_at(*, db: Session, ticket: Ticket, actor: User, now: datetime, value: datetime, tz: Any) -> None:
    """Enter or correct 解决问题时间 of a resolved case; who changed it and old → new go on the timeline."""
    if ticket.status not in ("resolved", "closed") or ticket.resolved_at is None:
        raise WorkflowError("只有已解决或已关闭的服务单可以填写解决问题时间")
    check_resolved_at(ticket, value, now)
    old = ticket.resolved_at
    if old == value:
        return
    ticket.resolved_at = value
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="resolved_at",
                      text=f"解决问题时间: {text_time(old, tz)} → {text_time(value, tz)}",
                      data={"old": old.astimezone(timezone.utc).isoformat(),
                            "new": value.astimezone(timezone.utc).isoformat()})



def support_step(*, db: Session, ticket: Ticket, actor: User, now: datetime, step: str, note: str,
                 rt: Runtime) -> None:
    """Support given (电话 → 远程 → 现场, as the contract escalates): on the timeline with time and engineer.
    The first step on an unanswered case is its response."""
    if step not in SUPPORT_STEPS:
        raise WorkflowError(f"支持方式须为 {'/'.join(SUPPORT_LABELS.values())}", 422)
    if ticket.status not in ("open", "acknowledged"):
        raise WorkflowError(f"服务单状态为 {STATUS_ZH.get(ticket.status, ticket.status)}, 不能记录支持")
    if ticket.status == "open":
        acknowledge(db=db, ticket=ticket, actor=actor, now=now, note=f"{SUPPORT_LABELS[step]}响应", rt=rt)
    if not ticket.support_level or SUPPORT_STEPS.index(step) > SUPPORT_STEPS.index(ticket.support_level):
        ticket.support_level = step
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind=f"support_{step}",
                      text=note or SUPPORT_LABELS[step], data={"step": step})


def hand_off(*, db: Session, ticket: Ticket, actor: User, now: datetime, department: str, note: str) -> None:
    """Not this system's problem: passed to `department`. The case ends as 已转交 and stays out of our
    response SLA (no verdict, no breach; a breach already recorded is withdrawn and kept in the event)."""
    if ticket.status not in ACTIVE_STATUSES:
        raise WorkflowError(f"服务单状态为 {STATUS_ZH.get(ticket.status, ticket.status)}, 不能转交")
    if not department.strip():
        raise WorkflowError("请填写转交的部门", 422)
    if ticket.pending_since is not None:  # the open pause ends with the case
        pauses = [list(p) for p in ticket.pauses or []]
        if pauses and pauses[-1][1] is None:
            pauses[-1][1] = now.isoformat()
        ticket.pauses = pauses
        ticket.paused_seconds += (now - ticket.pending_since).total_seconds()
        ticket.pending_since = None
    before = ticket.response_sla
    ticket.status = "handed_off"
    ticket.handed_to, ticket.handoff_note, ticket.handed_at = department.strip(), note.strip(), now
    ticket.response_sla = None
    ticket.active_fault_key = None
    if not ticket.engineer_name and users.has_role(actor, "engineer"):
        _set_engineer(ticket, actor)
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="handed_off",
                      text=f"不属于本系统, 转交 {ticket.handed_to}"
                           + (f": {ticket.handoff_note}" if ticket.handoff_note else ""),
                      data={"department": ticket.handed_to, "response_sla_before": before})


def close(*, db: Session, ticket: Ticket, actor: User, now: datetime, satisfaction: Optional[str],
          comment: str = "") -> None:
    """`satisfaction` is the customer's rating or, explicitly, 未评价; only an automatic ticket (no customer
    involved) may close without a choice, and is then 未评价."""
    if ticket.status != "resolved":
        raise WorkflowError("只有已解决的服务单可以关闭")
    if satisfaction is None and not satisfaction_.is_automatic(ticket):
        raise WorkflowError(f"请选择客户满意度 ({'/'.join(satisfaction_.CLOSE_CHOICES)})", 422)
    if satisfaction is not None and satisfaction not in satisfaction_.CLOSE_CHOICES:
        raise WorkflowError(f"满意度须为 {'/'.join(satisfaction_.CLOSE_CHOICES)}", 422)
    ticket.status = "closed"
    ticket.closed_at = now
    if satisfaction is not None:
        ticket.satisfaction = satisfaction if satisfaction in SATISFACTION else None
    if comment:
        ticket.satisfaction_comment = comment
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="closed",
                      text=f"关闭, 客户满意度: {satisfaction_.label(ticket.satisfaction)} {comment}".strip())


def reopen(*, db: Session, ticket: Ticket, actor: User, now: datetime, note: str = "") -> None:
    if ticket.status not in ("resolved", "closed", "handed_off"):
        raise WorkflowError(f"服务单状态为 {ticket.status}, 不能重新打开")
    if ticket.fault_key:
        other = service.active_for_fault(db=db, fault_key=ticket.fault_key)
        if other is not None:
            raise WorkflowError(f"同一故障已有处理中的服务单 {other.number}")
        ticket.active_fault_key = ticket.fault_key
    ticket.status = "acknowledged" if ticket.acknowledged_at else "open"
    ticket.resolved_at = None
    ticket.closed_at = None
    ticket.recovered_at = None
    ticket.handed_to, ticket.handoff_note, ticket.handed_at = "", "", None  # the hand-off stays on the timeline
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="reopened", text=note or "重新打开")


def edit(*, db: Session, ticket: Ticket, actor: User, now: datetime, changes: dict[str, Any], rt: Runtime) -> None:
    """Field corrections (customer details, description...); SLA fields follow channel/urgency changes."""
    diff = {}
    for key, value in changes.items():
        if key not in EDITABLE:
            raise WorkflowError(f"字段 {key} 不能修改", 422)
        if key == "reported_at" and value is not None and value > now:
            raise WorkflowError("热线时间不能晚于当前时间", 422)
        old = getattr(ticket, key)
        if old != value:
            diff[key] = [_plain(old), _plain(value)]
            setattr(ticket, key, value)
    if not diff:
        return
    if {"reported_at", "customer_unit", "host", "system"} & diff.keys() and ticket.acknowledged_at is None:
        support.attach(db=db, ticket=ticket)  # the 7×24 window it falls in may differ now
    if ({"channel", "urgent", "reported_at", "severity", "customer_unit", "host", "system"} & diff.keys()
            and ticket.acknowledged_at is None):
        set_due(ticket, rt, now)
    service.add_event(db=db, ticket=ticket, at=now, actor=actor.name, kind="edited",
                      text="修改: " + ", ".join(FIELD_LABELS.get(k, k) for k in diff), data=diff)


def _plain(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v
