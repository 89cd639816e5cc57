from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from collector.deps import Engineer, SessionDep, SettingsDep, Viewer
from collector.pagination import decode_cursor, page
from collector.runtime import runtime
from collector.tickets import service, workflow
from collector.tickets.deadlines import response_clock, state_now
from collector.tickets.fields import Phone, Text64, Text128, Text300, Text2000, Text20000
from collector.tickets.satisfaction import RATINGS
from collector.tickets.schemas import event_out, ticket_out
from collector.users import service as users

router = APIRouter(prefix="/api/v1", tags=["tickets"])


Status = Literal["open", "acknowledged", "pending", "resolved", "closed", "handed_off"]
Channel = Literal["phone", "email", "onsite", "remote", "auto"]
System = Literal["voucher", "seal", "mq", "os"]
Severity = Literal["critical", "warning", "info"]
Rating = Literal["满意", "基本满意", "不满意", "未评价"]


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


@router.get("/tickets", response_model=TicketPage)
def list_tickets(request: Request, db: SessionDep, settings: SettingsDep, user: Viewer,
                 status: Optional[Status] = None,
                 host: Optional[str] = None, unit: Optional[str] = None, system: Optional[str] = None,
                 limit: int = Query(100, ge=1, le=1000), cursor: Optional[str] = None) -> Any:
    before = None
    if cursor:
        before = decode_cursor(cursor)
        if not isinstance(before, int):
            raise HTTPException(400, "cursor 无效")
    rows = service.list_tickets(db=db, status=status, host=host, unit=unit, system=system, before_id=before,
                                limit=limit + 1)
    out = page(rows, limit, request, lambda t: t.id)
    rt = runtime(settings, db)
    out["items"] = [ticket_out(t, settings.timezone, clock_label(t, rt)) for t in out["items"]]
    return out


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
def get_ticket(ticket_id: int, request: Request, db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    t = service.get(db=db, ticket_id=ticket_id)
    if t is None:
        raise HTTPException(404, f"服务单 {ticket_id} 不存在")
    return _detail(t, db, settings, app_now(request))


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
    system: System = "os"
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
    satisfaction: Optional[Rating] = Field(
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
    system: Optional[System] = None
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


def app_now(request: Request) -> datetime:
    return request.app.state.clock()


def clock_label(t: Any, rt: Any) -> str:
    return response_clock(t, rt.policy, rt.calendar)


def _detail(t: Any, db: Any, settings: Any, now: datetime) -> dict[str, Any]:
    rt = runtime(settings, db)
    out = ticket_out(t, settings.timezone, clock_label(t, rt))
    if t.status == "handed_off":
        out["sla_state"] = None
    else:
        out["sla_state"] = state_now(t, rt, now) if t.response_sla is None else t.response_sla
    events = service.timeline(db=db, ticket_id=t.id)
    names = service.actor_names(db=db, events=events)
    out["timeline"] = [event_out(e, settings.timezone, names) for e in events]
    return out


@router.post("/tickets", status_code=201, response_model=TicketDetail)
def create_ticket(body: TicketIn, request: Request, db: SessionDep, settings: SettingsDep, user: Engineer) -> Any:
    now = app_now(request)
    data = body.model_dump()
    if body.engineer:
        engineer = users.get_by_name(db=db, name=body.engineer)
        if engineer is None:
            raise HTTPException(422, f"用户 {body.engineer} 不存在")
        data["engineer"] = engineer
    else:
        data.pop("engineer")
    try:
        t = workflow.create_manual(db=db, rt=runtime(settings, db), actor=user, now=now,
                                   number_prefix=settings.tickets.number_prefix, tz=settings.timezone, data=data)
    except workflow.WorkflowError as e:
        raise HTTPException(e.status, str(e)) from None
    db.commit()
    return _detail(t, db, settings, now)


@contextmanager
def _change(db: Any, t: Any) -> Iterator[None]:
    """A change to a locked ticket: a workflow refusal rolls it back and answers with its status; a
    change that went through bumps the ticket's version and commits."""
    try:
        yield
    except workflow.WorkflowError as e:
        db.rollback()
        raise HTTPException(e.status, str(e)) from None
    t.version += 1
    db.commit()


def _locked(db: Any, ticket_id: int, version: Optional[int]) -> Any:
    t = service.get_for_update(db=db, ticket_id=ticket_id)
    if t is None:
        raise HTTPException(404, f"服务单 {ticket_id} 不存在")
    if version is not None and version != t.version:
        raise HTTPException(409, f"服务单已被他人修改 (版本 {t.version}), 请刷新后重试")
    return t


@router.patch("/tickets/{ticket_id}", response_model=TicketDetail)
def patch_ticket(ticket_id: int, body: TicketPatch, request: Request, db: SessionDep, settings: SettingsDep,
                 user: Engineer) -> Any:
    t = _locked(db, ticket_id, body.version)
    rt = runtime(settings, db)
    now = app_now(request)
    fields = body.model_dump(exclude_unset=True, exclude={"status", "assignee", "satisfaction", "note", "version",
                                                         "resolution", "resolved_at"})
    nulls = sorted(k for k, v in fields.items() if v is None)
    if nulls:  # every correctable field has a value; null is not "unknown" here
        raise HTTPException(422, f"字段不能为空: {', '.join(nulls)}")
    if body.resolution is not None and body.status != "resolved":
        fields["resolution"] = body.resolution
    if body.status == "closed":
        fields.pop("satisfaction_comment", None)  # part of closing, not a separate correction
    with _change(db, t):
        if fields:
            workflow.edit(db=db, ticket=t, actor=user, now=now, changes=fields, rt=rt)
        if "assignee" in body.model_fields_set:
            engineer = users.get_by_name(db=db, name=body.assignee) if body.assignee else None
            if body.assignee and engineer is None:
                raise workflow.WorkflowError(f"用户 {body.assignee} 不存在", 422)
            workflow.assign(db=db, ticket=t, engineer=engineer, actor=user, now=now)
        if body.status is not None and body.status != t.status:
            _transition(db, t, body, user, now, rt)
        elif body.satisfaction is not None and t.status == "closed":  # the customer's rating, given later
            workflow.edit(db=db, ticket=t, actor=user, now=now, changes={"satisfaction": rated(body.satisfaction)},
                          rt=rt)
        if body.resolved_at is not None and body.status != "resolved":  # a correction of a resolved case
            workflow.set_resolved_at(db=db, ticket=t, actor=user, now=now, value=body.resolved_at,
                                     tz=rt.calendar.tz)
    return _detail(t, db, settings, now)


@router.post("/tickets/{ticket_id}/support", response_model=TicketDetail)
def add_support(ticket_id: int, body: SupportIn, request: Request, db: SessionDep, settings: SettingsDep,
                user: Engineer) -> Any:
    t = _locked(db, ticket_id, body.version)
    now = app_now(request)
    with _change(db, t):
        workflow.support_step(db=db, ticket=t, actor=user, now=now, step=body.step, note=body.note,
                              rt=runtime(settings, db))
    return _detail(t, db, settings, now)


@router.post("/tickets/{ticket_id}/handoff", response_model=TicketDetail)
def hand_off(ticket_id: int, body: HandoffIn, request: Request, db: SessionDep, settings: SettingsDep,
             user: Engineer) -> Any:
    t = _locked(db, ticket_id, body.version)
    now = app_now(request)
    with _change(db, t):
        workflow.hand_off(db=db, ticket=t, actor=user, now=now, department=body.department, note=body.note)
    return _detail(t, db, settings, now)


def rated(value: str) -> Optional[str]:
    return value if value in RATINGS else None  # 未评价 is no rating


def _transition(db: Any, t: Any, body: TicketPatch, user: Any, now: Any, rt: Any) -> None:
    target = body.status
    if target == "acknowledged":
        workflow.acknowledge(db=db, ticket=t, actor=user, now=now, note=body.note, rt=rt)
    elif target == "pending":
        workflow.pend(db=db, ticket=t, actor=user, now=now, rt=rt, note=body.note)
    elif target == "resolved":
        workflow.resolve(db=db, ticket=t, actor=user, now=now, resolution=body.resolution or "", rt=rt,
                         resolved_at=body.resolved_at)
    elif target == "closed":
        workflow.close(db=db, ticket=t, actor=user, now=now, satisfaction=body.satisfaction,
                       comment=body.satisfaction_comment or "")
    elif target == "open" and t.status == "pending":
        workflow.resume(db=db, ticket=t, actor=user, now=now, note=body.note, rt=rt)
    elif target == "open":
        workflow.reopen(db=db, ticket=t, actor=user, now=now, note=body.note)
