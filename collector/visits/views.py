from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Optional

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from collector.db import utcnow
from collector.deps import Engineer, SessionDep, SettingsDep, Viewer
from collector.pagination import Page
from collector.tickets.models import Ticket
from collector.timefmt import LocalTime, month_range
from collector.visits import service
from collector.visits.models import Visit

router = APIRouter(prefix="/api/v1", tags=["visits"])


class Answer(BaseModel):
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field("", max_length=2000)


class VisitIn(BaseModel):
    """A return visit (用户回访)."""

    date: dt.date
    unit: str = Field("", max_length=128, description="客户单位")
    customer_name: str = Field("", max_length=64, description="客户姓名")
    method: Literal["电话", "现场", "邮件", "问卷"]
    answers: list[Answer] = Field(default_factory=list, max_length=50)
    satisfaction: Literal["满意", "基本满意", "不满意"]
    comment: str = Field("", max_length=4000)
    ticket_id: Optional[int] = None


class VisitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    date: dt.date
    unit: str
    customer_name: str
    method: str
    answers: list[dict[str, str]]
    satisfaction: str
    comment: str
    ticket_id: Optional[int]
    engineer_name: str
    engineer_number: str
    created_by: str
    created_at: LocalTime


def visit_out(v: Visit, tz: str) -> VisitOut:
    return VisitOut.model_validate(v, from_attributes=True, context={"tz": tz})


@router.post("/visits", status_code=201, response_model=VisitOut)
def create_visit(body: VisitIn, db: SessionDep, settings: SettingsDep, user: Engineer) -> Any:
    if body.ticket_id is not None and db.get(Ticket, body.ticket_id) is None:
        raise HTTPException(422, f"服务单 {body.ticket_id} 不存在")
    data = body.model_dump()
    data["answers"] = [a.model_dump() for a in body.answers]
    return visit_out(service.record(db=db, actor=user, now=utcnow(), data=data), settings.timezone)


@router.get("/visits", response_model=Page[VisitOut])
def list_visits(db: SessionDep, settings: SettingsDep, user: Viewer, month: Optional[str] = None,
                unit: Optional[str] = None) -> Any:
    if month:
        try:
            start, end = month_range(month)
        except ValueError as e:
            raise HTTPException(422, str(e)) from None
    else:
        start, end = dt.date(1970, 1, 1), dt.date(9999, 1, 1)
    items = service.in_range(db=db, start=start, end=end, unit=unit)
    return Page(items=[visit_out(v, settings.timezone) for v in items])
