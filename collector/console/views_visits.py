"""用户回访: the survey form (客户满意度调查表) and the month's 用户回访统计表, per unit.

Visits are stored through collector.visits.service, as the API stores them, and count towards the
month's satisfaction rate with the tickets' ratings."""
from __future__ import annotations

from datetime import date
from typing import Any, Optional

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from collector.console import queries
from collector.console.fields import problems, text_problem
from collector.console.web import ConsoleError, EngineerForm, PageUser, clock, redirect, render, settings_of
from collector.deps import SessionDep
from collector.tickets import satisfaction
from collector.tickets.models import Ticket
from collector.timefmt import zone
from collector.visits import service, survey
from collector.visits.models import METHODS, Visit

router = APIRouter(prefix="/console/visits", include_in_schema=False)
FIELDS = ("date", "unit", "customer_name", "method", "ticket", "satisfaction", "comment")


def _month_of(request: Request, month: str) -> str:
    tz = settings_of(request).timezone
    if queries.month_range(month, tz) and 2000 <= int(month[:4]) <= 2099:
        return month
    return clock(request).astimezone(zone(tz)).strftime("%Y-%m")


def _page(request: Request, db: Session, month: str, values: dict[str, Any], error: str = "", status: int = 200,
          saved: str = "") -> Response:
    tz = settings_of(request).timezone
    start, end = queries.month_range(month, tz) or (clock(request), clock(request))
    visits = service.in_range(db=db, start=start.date(), end=end.date())
    lines, total = survey.per_unit(visits)
    numbers = dict(db.execute(sa.select(Ticket.id, Ticket.number).where(
        Ticket.id.in_([v.ticket_id for v in visits if v.ticket_id]))).all()) if visits else {}
    overall = service.month_rate(db=db, start=start, end=end)
    return render(request, "visits.html", status=status, month=month, visits=visits, lines=lines, total=total,
                  numbers=numbers, overall=overall, target=survey.TARGET, questions=survey.QUESTIONS,
                  ratings=satisfaction.RATINGS, methods=METHODS, values=values, error=error, saved=saved,
                  units=queries.units(db=db), today=clock(request).astimezone(zone(tz)).date().isoformat(),
                  nav="visits")


@router.get("")
def visits(request: Request, db: SessionDep, me: PageUser, month: str = "", saved: str = "") -> Response:
    return _page(request, db, _month_of(request, month), {}, saved=saved[:20])


def _ticket(db: Session, ref: str) -> Optional[Ticket]:
    ref = ref.strip()
    if not ref:
        return None
    return db.scalar(sa.select(Ticket).where(Ticket.number == ref[:64]))


@router.post("")
def record(request: Request, db: SessionDep, form: EngineerForm) -> Response:
    tz = settings_of(request).timezone
    values: dict[str, Any] = {k: form.get(k) for k in FIELDS}
    answers = {f"q{i}": form.get(f"q{i}") for i in range(len(survey.QUESTIONS))}
    values.update(answers)
    today = clock(request).astimezone(zone(tz)).date()
    found = problems(
        text_problem("客户单位", values["unit"], 128),
        text_problem("客户姓名", values["customer_name"], 64),
        text_problem("关联服务单", values["ticket"], 64),
        text_problem("客户意见", values["comment"], 4000, multiline=True))
    day: Optional[date] = None
    try:
        day = date.fromisoformat(values["date"]) if values["date"] else None
    except ValueError:
        pass
    if day is None:
        found.append("请填写正确的回访日期 (年-月-日)")
    elif day > today or day.year < 2000:
        found.append(f"回访日期不能晚于今天 ({today.isoformat()}), 也不能早于 2000 年")
    if values["method"] not in METHODS:
        found.append("请选择回访方式")
    if values["satisfaction"] not in satisfaction.RATINGS:
        found.append("请选择总体满意度 (满意/基本满意/不满意)")
    if any(a not in (*satisfaction.RATINGS, "") for a in answers.values()):
        found.append("调查项的回答只能是 满意/基本满意/不满意")
    ticket = None
    if values["ticket"] and not found:
        ticket = _ticket(db, values["ticket"])
        if ticket is None:
            found.append(f"服务单 {values['ticket']} 不存在 (请填写服务单编号)")
    if not values["unit"] and ticket is not None:
        values["unit"] = ticket.customer_unit
    if not values["unit"] and not found:
        found.append("请填写客户单位")
    month = day.strftime("%Y-%m") if day else _month_of(request, "")
    if found:
        return _page(request, db, month, values, error="; ".join(found), status=422)
    assert day is not None
    data = {"date": day, "unit": values["unit"], "customer_name": values["customer_name"],
            "method": values["method"], "satisfaction": values["satisfaction"], "comment": values["comment"],
            "ticket_id": ticket.id if ticket else None,
            "answers": [{"question": q, "answer": answers[f"q{i}"] or survey.NOT_ANSWERED}
                        for i, q in enumerate(survey.QUESTIONS)]}
    service.record(db=db, actor=form.active.user, now=clock(request), data=data)
    db.commit()
    return redirect(f"/console/visits?month={month}&saved=1")


@router.get("/{visit_id}/print")
def print_view(request: Request, visit_id: int, db: SessionDep, me: PageUser) -> Response:
    v = db.get(Visit, visit_id) if 0 < visit_id < 2**31 else None
    if v is None:
        raise ConsoleError(404, f"回访记录 {visit_id} 不存在")
    number = db.scalar(sa.select(Ticket.number).where(Ticket.id == v.ticket_id)) if v.ticket_id else ""
    return render(request, "visit_print.html", v=v, number=number or "", methods=METHODS,
                  ratings=satisfaction.RATINGS)
