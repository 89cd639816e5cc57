from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from fastapi import APIRouter, HTTPException

from collector.db import utcnow
from collector.deps import Engineer, SessionDep, SettingsDep, Viewer
from collector.pagination import Page
from collector.tickets.models import Ticket
from collector.timefmt import month_range
from collector.visits import service
from collector.visits.schemas import VisitIn, VisitOut

router = APIRouter(prefix="/api/v1", tags=["visits"])


@router.post("/visits", status_code=201, response_model=VisitOut)
def create_visit(body: VisitIn, db: SessionDep, settings: SettingsDep, user: Engineer) -> Any:
    if body.ticket_id is not None and db.get(Ticket, body.ticket_id) is None:
        raise HTTPException(422, f"服务单 {body.ticket_id} 不存在")
    data = body.model_dump()
    data["answers"] = [a.model_dump() for a in body.answers]
    return VisitOut.of(service.record(db=db, actor=user, now=utcnow(), data=data), settings.timezone)


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
    return Page(items=[VisitOut.of(v, settings.timezone) for v in items])
