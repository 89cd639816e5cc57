from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Optional

from fastapi import APIRouter, HTTPException, Query, Request

from collector.deps import Admin, Engineer, SessionDep, SettingsDep, Viewer
from collector.pagination import decode_cursor, page
from collector.runtime import runtime
from collector.tickets import schemas, service, windows, workflow
from collector.tickets.deadlines import response_clock, state_now
from collector.tickets.models import SupportWindow
from collector.tickets.satisfaction import RATINGS
from collector.users import service as users

router = APIRouter(prefix="/api/v1", tags=["tickets"])
windows_router = APIRouter(prefix="/api/v1", tags=["support windows"])  # 7×24 windows, opened and closed by an admin


@router.get("/tickets", response_model=schemas.TicketPage)
def list_tickets(request: Request, db: SessionDep, settings: SettingsDep, user: Viewer,
                 status: Optional[schemas.Status] = None,
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
    out["items"] = [schemas.ticket_out(t, settings.timezone, clock_label(t, rt)) for t in out["items"]]
    return out


@router.get("/tickets/{ticket_id}", response_model=schemas.TicketDetail)
def get_ticket(ticket_id: int, request: Request, db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    t = service.get(db=db, ticket_id=ticket_id)
    if t is None:
        raise HTTPException(404, f"服务单 {ticket_id} 不存在")
    return _detail(t, db, settings, app_now(request))


def app_now(request: Request) -> datetime:
    return request.app.state.clock()


def clock_label(t: Any, rt: Any) -> str:
    return response_clock(t, rt.policy, rt.calendar)


def _detail(t: Any, db: Any, settings: Any, now: datetime) -> dict[str, Any]:
    rt = runtime(settings, db)
    out = schemas.ticket_out(t, settings.timezone, clock_label(t, rt))
    if t.status == "handed_off":
        out["sla_state"] = None
    else:
        out["sla_state"] = state_now(t, rt, now) if t.response_sla is None else t.response_sla
    events = service.timeline(db=db, ticket_id=t.id)
    names = service.actor_names(db=db, events=events)
    out["timeline"] = [schemas.event_out(e, settings.timezone, names) for e in events]
    return out


@router.post("/tickets", status_code=201, response_model=schemas.TicketDetail)
def create_ticket(body: schemas.TicketIn, request: Request, db: SessionDep, settings: SettingsDep,
                  user: Engineer) -> Any:
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


@router.patch("/tickets/{ticket_id}", response_model=schemas.TicketDetail)
def patch_ticket(ticket_id: int, body: schemas.TicketPatch, request: Request, db: SessionDep, settings: SettingsDep,
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


@router.post("/tickets/{ticket_id}/support", response_model=schemas.TicketDetail)
def add_support(ticket_id: int, body: schemas.SupportIn, request: Request, db: SessionDep, settings: SettingsDep,
                user: Engineer) -> Any:
    t = _locked(db, ticket_id, body.version)
    now = app_now(request)
    with _change(db, t):
        workflow.support_step(db=db, ticket=t, actor=user, now=now, step=body.step, note=body.note,
                              rt=runtime(settings, db))
    return _detail(t, db, settings, now)


@router.post("/tickets/{ticket_id}/handoff", response_model=schemas.TicketDetail)
def hand_off(ticket_id: int, body: schemas.HandoffIn, request: Request, db: SessionDep, settings: SettingsDep,
             user: Engineer) -> Any:
    t = _locked(db, ticket_id, body.version)
    now = app_now(request)
    with _change(db, t):
        workflow.hand_off(db=db, ticket=t, actor=user, now=now, department=body.department, note=body.note)
    return _detail(t, db, settings, now)


def rated(value: str) -> Optional[str]:
    return value if value in RATINGS else None  # 未评价 is no rating


def _transition(db: Any, t: Any, body: schemas.TicketPatch, user: Any, now: Any, rt: Any) -> None:
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


@windows_router.post("/support-windows", status_code=201, response_model=schemas.SupportWindowOut)
def open_window(body: schemas.SupportWindowIn, request: Request, db: SessionDep, settings: SettingsDep,
                user: Admin) -> Any:
    try:
        w = windows.create(db=db, rt=runtime(settings, db), kind=body.kind, title=body.title,
                           starts_at=body.starts_at, ends_at=body.ends_at, unit=body.unit, host=body.host,
                           system=body.system, actor=user.name, now=request.app.state.clock())
    except windows.WindowError as e:
        raise HTTPException(422, str(e)) from None
    db.commit()
    return schemas.window_out(w, settings.timezone)


@windows_router.get("/support-windows", response_model=schemas.SupportWindowPage)
def list_windows(db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    return {"items": [schemas.window_out(w, settings.timezone) for w in windows.list_windows(db=db)], "next": None}


@windows_router.post("/support-windows/{window_id}/close", response_model=schemas.SupportWindowOut)
def close_window(window_id: int, request: Request, db: SessionDep, settings: SettingsDep, user: Admin) -> Any:
    w = db.get(SupportWindow, window_id) if 0 < window_id < 2**31 else None
    if w is None:
        raise HTTPException(404, f"7×24 窗口 {window_id} 不存在")
    try:
        windows.close(db=db, rt=runtime(settings, db), window=w, actor=user.name, now=request.app.state.clock())
    except windows.WindowError as e:
        raise HTTPException(409, str(e)) from None
    db.commit()
    return schemas.window_out(w, settings.timezone)
