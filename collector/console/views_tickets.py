"""服务单: list, detail with timeline, workflow actions, new case form, print view.

Every change goes through collector.tickets.workflow, so it lands in the ticket's timeline with the
console user's name, exactly as a change made through the API does."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from checks.model import SYSTEMS
from collector.console import queries
from collector.console.web import (
    ConsoleError,
    EngineerForm,
    PageUser,
    clock,
    local_input,
    redirect,
    render,
    row_id,
    settings_of,
)
from collector.deps import SessionDep
from collector.runtime import runtime
from collector.tickets import satisfaction, service, workflow
from collector.tickets.deadlines import response_clock as response_clock_of
from collector.tickets.deadlines import state_now
from collector.tickets.fields import phone_problem, text_problem
from collector.tickets.models import STATUSES, SUPPORT_STEPS, Ticket
from collector.users import service as users

router = APIRouter(prefix="/console/tickets", include_in_schema=False)
LIMITS = {"customer_name": 64, "customer_unit": 128, "room": 64, "contact_person": 64, "host": 128, "title": 300,
          "description": 20000}
FIELD_NAMES = {"customer_name": "客户姓名", "customer_unit": "客户单位", "room": "客户房间号",
               "contact_person": "联系人", "host": "主机", "title": "标题", "description": "问题描述", "note": "备注",
               "resolution": "解决描述",
               "department": "转交部门", "comment": "客户意见"}


@router.get("")
def ticket_list(request: Request, db: SessionDep, me: PageUser, status: str = "", unit: str = "", system: str = "",
                engineer: str = "", month: str = "", q: str = "", page: int = 1) -> Response:
    settings = settings_of(request)
    f = queries.Filters(status=status if status in (*STATUSES, "active") else "", unit=unit[:128],
                        system=system if system in SYSTEMS else "", engineer=engineer[:16],
                        month=month if queries.month_range(month, settings.timezone) else "", q=q.strip()[:64])
    page = max(1, min(page, 100000))
    rows, total = queries.search(db=db, f=f, tz=settings.timezone, page=page)
    pages = max(1, -(-total // queries.PAGE_SIZE))
    params = {k: v for k, v in vars(f).items() if v}

    def page_url(n: int) -> str:
        return "/console/tickets?" + urlencode({**params, "page": n})

    return render(request, "tickets.html", rows=rows, total=total, page=page, pages=pages, f=f, page_url=page_url,
                  units=queries.units(db=db), engineers=queries.engineers(db=db), systems=SYSTEMS,
                  statuses=STATUSES, nav="tickets")


@router.get("/new")
def new_form(request: Request, db: SessionDep, me: PageUser) -> Response:
    if not render_can_edit(me):
        raise ConsoleError(403, "只读账号 (viewer) 不能登记服务单。")
    return _new_page(request, db, {}, "")


def render_can_edit(me: Any) -> bool:
    return users.has_role(me.user, "engineer")


def _new_page(request: Request, db: Session, values: dict[str, str], error: str, status: int = 200) -> Response:
    return render(request, "ticket_new.html", status=status, values=values, error=error, systems=SYSTEMS,
                  units=queries.units(db=db), hosts=queries.host_names(db=db),
                  engineers=queries.engineers(db=db), nav="new")


@router.post("/new")
def create(request: Request, db: SessionDep, form: EngineerForm) -> Response:
    settings = settings_of(request)
    values = {k: form.get(k) for k in ("channel", "reported_at", "customer_name", "customer_unit", "room",
                                       "contact_person", "contact_phone", "description", "system", "host",
                                       "severity", "engineer", "title")}
    values["urgent"] = "1" if form.has("urgent") else ""
    problems = []
    if values["channel"] not in ("phone", "email", "onsite", "remote"):
        problems.append("请选择渠道")
    if not values["description"]:
        problems.append("请填写问题描述")
    if values["system"] not in SYSTEMS:
        problems.append("请选择系统")
    if values["severity"] not in ("critical", "warning", "info"):
        values["severity"] = "warning"
    problems += [f"{FIELD_NAMES[k]}过长 (最多 {n} 字)" for k, n in LIMITS.items() if len(values[k]) > n]
    problems += [f"{FIELD_NAMES[k]}{p}" for k in LIMITS if (p := text_problem(values[k]))]
    phone = phone_problem(values["contact_phone"])
    if phone:
        problems.append(phone)
    engineer = None
    if values["engineer"]:
        uid = row_id(values["engineer"])
        engineer = users.get(db=db, user_id=uid) if uid is not None else None
        if engineer is None:
            problems.append("工程师不存在")
    if problems:
        return _new_page(request, db, values, "; ".join(problems), status=422)
    data: dict[str, Any] = {k: values[k] for k in ("channel", "customer_name", "customer_unit", "room",
                                                   "contact_person", "contact_phone", "description", "system",
                                                   "host", "severity", "title")}
    data["urgent"] = bool(values["urgent"])
    data["reported_at"] = local_input(values["reported_at"], settings.timezone)
    if engineer is not None:
        data["engineer"] = engineer
    try:
        t = workflow.create_manual(db=db, rt=runtime(settings, db), actor=form.active.user, now=clock(request),
                                   number_prefix=settings.tickets.number_prefix, tz=settings.timezone, data=data)
    except workflow.WorkflowError as e:
        db.rollback()
        return _new_page(request, db, values, str(e), status=e.status)
    db.commit()
    return redirect(f"/console/tickets/{t.id}")


def _load(db: Session, ticket_id: int) -> Ticket:
    t = service.get(db=db, ticket_id=ticket_id)
    if t is None:
        raise ConsoleError(404, f"服务单 {ticket_id} 不存在")
    return t


def _detail_page(request: Request, db: Session, t: Ticket, error: str = "", status: int = 200) -> Response:
    rt = runtime(settings_of(request), db)
    now = clock(request)
    sla = t.response_sla or (state_now(t, rt, now) if t.status == "open" else None)
    response_clock = response_clock_of(t, rt.policy, rt.calendar, now)
    previous = service.get(db=db, ticket_id=t.previous_ticket_id) if t.previous_ticket_id else None
    events = service.timeline(db=db, ticket_id=t.id)
    return render(request, "ticket.html", status=status, t=t, sla=sla, previous=previous, error=error,
                  timeline=events, actors=service.actor_names(db=db, events=events), engineers=queries.engineers(db=db),
                  close_choices=satisfaction.CLOSE_CHOICES, automatic=satisfaction.is_automatic(t),
                  response_clock=response_clock, steps=SUPPORT_STEPS, app_now=now, nav="tickets")


@router.get("/{ticket_id}")
def detail(request: Request, ticket_id: int, db: SessionDep, me: PageUser) -> Response:
    return _detail_page(request, db, _load(db, ticket_id))


@router.get("/{ticket_id}/print")
def print_view(request: Request, ticket_id: int, db: SessionDep, me: PageUser) -> Response:
    t = _load(db, ticket_id)
    given = {e.kind.removeprefix("support_") for e in service.timeline(db=db, ticket_id=t.id)
             if e.kind.startswith("support_")}
    return render(request, "ticket_print.html", t=t, satisfaction=workflow.SATISFACTION, given=given)


ACTIONS = ("acknowledge", "assign", "pend", "resume", "resolve", "close", "reopen", "support", "handoff",
           "resolved_at")


@router.post("/{ticket_id}/{action}")
def act(request: Request, ticket_id: int, action: str, db: SessionDep, form: EngineerForm) -> Response:
    if action not in ACTIONS:
        raise ConsoleError(404, f"未知操作 {action}")
    t = service.get_for_update(db=db, ticket_id=ticket_id)
    if t is None:
        raise ConsoleError(404, f"服务单 {ticket_id} 不存在")
    version = form.get("version")
    if version and version != str(t.version):
        return _detail_page(request, db, t, status=409,
                            error=f"服务单已被他人修改 (版本 {t.version}), 页面已刷新, 请确认后重试。")
    try:
        _apply(db, t, action, form, request)
    except workflow.WorkflowError as e:
        db.rollback()
        t = _load(db, ticket_id)
        return _detail_page(request, db, t, error=str(e), status=e.status)
    t.version += 1
    db.commit()
    return redirect(f"/console/tickets/{t.id}")


def _text(form: Any, name: str, limit: int) -> str:
    """A free-text field, refused (not cut) when too long or holding what the database cannot store."""
    value = form.get(name)
    if len(value) > limit:
        raise workflow.WorkflowError(f"{FIELD_NAMES.get(name, name)}过长 (最多 {limit} 字)", 422)
    problem = text_problem(value)
    if problem:
        raise workflow.WorkflowError(f"{FIELD_NAMES.get(name, name)}{problem}, 请删除后重试", 422)
    return value


def _entered_time(form: Any, name: str, tz: str) -> Optional[datetime]:
    try:
        return local_input(form.get(name), tz)
    except ConsoleError as e:
        raise workflow.WorkflowError(e.message, 422) from None


def _apply(db: Session, t: Ticket, action: str, form: Any, request: Request) -> None:
    settings = settings_of(request)
    rt = runtime(settings, db)
    actor, now, note = form.active.user, clock(request), _text(form, "note", 2000)
    if action == "acknowledge":
        workflow.acknowledge(db=db, ticket=t, actor=actor, now=now, note=note, rt=rt)
    elif action == "assign":
        who = form.get("engineer")
        uid = row_id(who)
        engineer: Optional[Any] = users.get(db=db, user_id=uid) if uid is not None else None
        if who and engineer is None:
            raise workflow.WorkflowError("工程师不存在", 422)
        workflow.assign(db=db, ticket=t, engineer=engineer, actor=actor, now=now)
    elif action == "pend":
        workflow.pend(db=db, ticket=t, actor=actor, now=now, rt=rt, note=note)
    elif action == "resume":
        workflow.resume(db=db, ticket=t, actor=actor, now=now, note=note, rt=rt)
    elif action == "resolve":
        workflow.resolve(db=db, ticket=t, actor=actor, now=now, resolution=_text(form, "resolution", 20000), rt=rt,
                         resolved_at=_entered_time(form, "resolved_at", settings.timezone))
    elif action == "resolved_at":
        value = _entered_time(form, "resolved_at", settings.timezone)
        if value is None:
            raise workflow.WorkflowError("请填写解决问题时间", 422)
        workflow.set_resolved_at(db=db, ticket=t, actor=actor, now=now, value=value, tz=rt.calendar.tz)
    elif action == "close":
        workflow.close(db=db, ticket=t, actor=actor, now=now, satisfaction=form.get("satisfaction") or None,
                       comment=_text(form, "comment", 2000))
    elif action == "support":
        workflow.support_step(db=db, ticket=t, actor=actor, now=now, step=form.get("step"), note=note, rt=rt)
    elif action == "handoff":
        workflow.hand_off(db=db, ticket=t, actor=actor, now=now, department=_text(form, "department", 128),
                          note=note)
    elif action == "reopen":
        workflow.reopen(db=db, ticket=t, actor=actor, now=now, note=note)

