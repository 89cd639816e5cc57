from __future__ import annotations

from typing import Any, Literal, Optional

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from collector.db import utcnow
from collector.deps import Engineer, SessionDep, SettingsDep, Viewer
from collector.pagination import Page, decode_cursor, page
from collector.runtime import runtime
from collector.tickets import service, workflow
from collector.tickets.satisfaction import RATINGS
from collector.tickets.schemas import TicketDetailOut, TicketOut, event_out, ticket_out
from collector.tickets.sla import state_now
from collector.users import service as users

router = APIRouter(prefix="/api/v1", tags=["tickets"])


@router.get("/tickets", response_model=Page[TicketOut])
def list_tickets(request: Request, db: SessionDep, settings: SettingsDep, user: Viewer,
                 status: Optional[Literal["open", "acknowledged", "pending", "resolved", "closed"]] = None,
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
    out["items"] = [ticket_out(t, settings.timezone) for t in out["items"]]
    return out


@router.get("/tickets/{ticket_id}", response_model=TicketDetailOut)
def get_ticket(ticket_id: int, db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    t = service.get(db=db, ticket_id=ticket_id)
    if t is None:
        raise HTTPException(404, f"服务单 {ticket_id} 不存在")
    return _detail(t, db, settings)


class TicketIn(BaseModel):
    """A case taken by phone, e-mail, on site or remotely (系统服务单)."""

    channel: Literal["phone", "email", "onsite", "remote", "auto"]
    urgent: bool = False
    reported_at: Optional[AwareDatetime] = Field(None, description="热线时间; default now")
    customer_name: str = Field("", max_length=64)
    customer_unit: str = Field("", max_length=128)
    room: str = Field("", max_length=64)
    description: str = Field(min_length=1, max_length=20000)
    system: Literal["voucher", "seal", "mq", "os"] = "os"
    host: str = Field("", max_length=128)
    severity: Literal["critical", "warning", "info"] = "warning"
    title: str = Field("", max_length=300)
    engineer: Optional[str] = Field(None, description="user name of the engineer to assign")


class TicketPatch(BaseModel):
    """Workflow: set `status` (acknowledged, pending, resolved + resolution, closed + satisfaction, open to
    reopen), `assignee`, or correct fields. `version` guards against overwriting someone else's change."""

    status: Optional[Literal["open", "acknowledged", "pending", "resolved", "closed"]] = None
    assignee: Optional[str] = None
    resolution: Optional[str] = Field(None, max_length=20000)
    satisfaction: Optional[Literal["满意", "基本满意", "不满意", "未评价"]] = Field(
        None, description="required to close a manual case (a rating, or explicitly 未评价); an automatic ticket "
                          "closed without it is 未评价")
    satisfaction_comment: Optional[str] = Field(None, max_length=2000)
    note: str = Field("", max_length=2000)
    version: Optional[int] = None
    customer_name: Optional[str] = Field(None, max_length=64)
    customer_unit: Optional[str] = Field(None, max_length=128)
    room: Optional[str] = Field(None, max_length=64)
    description: Optional[str] = Field(None, max_length=20000)
    title: Optional[str] = Field(None, max_length=300)
    system: Optional[Literal["voucher", "seal", "mq", "os"]] = None
    host: Optional[str] = Field(None, max_length=128)
    severity: Optional[Literal["critical", "warning", "info"]] = None
    urgent: Optional[bool] = None
    channel: Optional[Literal["phone", "email", "onsite", "remote", "auto"]] = None
    reported_at: Optional[AwareDatetime] = None


def _detail(t: Any, db: Any, settings: Any) -> TicketDetailOut:
    rt = runtime(settings, db)
    sla_state = state_now(t, rt, utcnow()) if t.response_sla is None else t.response_sla
    events = service.timeline(db=db, ticket_id=t.id)
    names = service.actor_names(db=db, events=events)
    return TicketDetailOut(**dict(ticket_out(t, settings.timezone)), sla_state=sla_state,
                           timeline=[event_out(e, settings.timezone, names) for e in events])


@router.post("/tickets", status_code=201, response_model=TicketDetailOut)
def create_ticket(body: TicketIn, db: SessionDep, settings: SettingsDep, user: Engineer) -> Any:
    data = body.model_dump()
    if body.engineer:
        engineer = users.get_by_name(db=db, name=body.engineer)
        if engineer is None:
            raise HTTPException(422, f"用户 {body.engineer} 不存在")
        data["engineer"] = engineer
    else:
        data.pop("engineer")
    try:
        t = workflow.create_manual(db=db, rt=runtime(settings, db), actor=user, now=utcnow(),
                                   number_prefix=settings.tickets.number_prefix, tz=settings.timezone, data=data)
    except workflow.WorkflowError as e:
        raise HTTPException(e.status, str(e)) from None
    db.commit()
    return _detail(t, db, settings)


@router.patch("/tickets/{ticket_id}", response_model=TicketDetailOut)
def patch_ticket(ticket_id: int, body: TicketPatch, db: SessionDep, settings: SettingsDep, user: Engineer) -> Any:
    t = service.get_for_update(db=db, ticket_id=ticket_id)
    if t is None:
        raise HTTPException(404, f"服务单 {ticket_id} 不存在")
    if body.version is not None and body.version != t.version:
        raise HTTPException(409, f"服务单已被他人修改 (版本 {t.version}), 请刷新后重试")
    rt = runtime(settings, db)
    now = utcnow()
    fields = body.model_dump(exclude_unset=True, exclude={"status", "assignee", "satisfaction", "note", "version",
                                                         "resolution"})
    nulls = sorted(k for k, v in fields.items() if v is None)
    if nulls:  # every correctable field has a value; null is not "unknown" here
        raise HTTPException(422, f"字段不能为空: {', '.join(nulls)}")
    if body.resolution is not None and body.status != "resolved":
        fields["resolution"] = body.resolution
    if body.status == "closed":
        fields.pop("satisfaction_comment", None)  # part of closing, not a separate correction
    try:
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
    except workflow.WorkflowError as e:
        db.rollback()
        raise HTTPException(e.status, str(e)) from None
    t.version += 1
    db.commit()
    return _detail(t, db, settings)


def rated(value: str) -> Optional[str]:
    return value if value in RATINGS else None  # 未评价 is no rating


def _transition(db: Any, t: Any, body: TicketPatch, user: Any, now: Any, rt: Any) -> None:
    target = body.status
    if target == "acknowledged":
        workflow.acknowledge(db=db, ticket=t, actor=user, now=now, note=body.note, rt=rt)
    elif target == "pending":
        workflow.pend(db=db, ticket=t, actor=user, now=now, rt=rt, note=body.note)
    elif target == "resolved":
        workflow.resolve(db=db, ticket=t, actor=user, now=now, resolution=body.resolution or "", rt=rt)
    elif target == "closed":
        workflow.close(db=db, ticket=t, actor=user, now=now, satisfaction=body.satisfaction,
                       comment=body.satisfaction_comment or "")
    elif target == "open" and t.status == "pending":
        workflow.resume(db=db, ticket=t, actor=user, now=now, note=body.note, rt=rt)
    elif target == "open":
        workflow.reopen(db=db, ticket=t, actor=user, now=now, note=body.note)
