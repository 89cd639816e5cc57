from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from collector.db import utcnow
from collector.deps import Engineer, SessionDep, SettingsDep, Viewer
from collector.pagination import Page
from collector.reports import fresh, service
from collector.reports.models import Report, file_name
from collector.reports.schemas import ReportIn, ReportOut
from collector.runtime import runtime
from collector.timefmt import month_range

router = APIRouter(prefix="/api/v1", tags=["reports"])


@router.get("/reports", response_model=Page[ReportOut])
def list_reports(db: SessionDep, settings: SettingsDep, user: Viewer, month: Optional[str] = None,
                 unit: Optional[str] = None, limit: int = Query(200, ge=1, le=1000)) -> Any:
    q = sa.select(Report).order_by(Report.month.desc(), Report.unit, Report.format).limit(limit)
    if month:
        q = q.where(Report.month == month)
    if unit is not None:
        q = q.where(Report.unit == unit)
    return Page(items=[ReportOut.of(r, settings.timezone) for r in db.scalars(q)])


@router.post("/reports", status_code=201, response_model=ReportOut)
def create_report(body: ReportIn, db: SessionDep, settings: SettingsDep, user: Engineer) -> Any:
    try:
        month_range(body.month)
    except ValueError as e:  # e.g. year 0000 (found by the OpenAPI fuzz test)
        raise HTTPException(422, str(e)) from None
    report, _ = service.generate(db=db, month=body.month, unit=body.unit, fmt=body.format,
                                 rt=runtime(settings, db), now=utcnow(), actor=user.name, replace=True)
    if report is None:
        raise HTTPException(409, "报告正在由其他进程生成, 请稍后再试")
    return ReportOut.of(report, settings.timezone)


@router.get("/reports/view", response_class=HTMLResponse, responses={200: {
    "description": "the report page", "content": {"text/html": {"schema": {"type": "string"}}}}})
def view(request: Request, db: SessionDep, settings: SettingsDep, user: Viewer, month: str,
         unit: str = "") -> HTMLResponse:
    """The HTML report of a month, rendered now from the current data (not stored)."""
    try:
        month_range(month)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    rt, now = runtime(settings, db), utcnow()
    with request.app.state.sessionmaker() as writer:  # a GET's session reads only (SQLite: deferred)
        fresh.refresh(db=writer, month=month, now=now, calendar=rt.calendar)
    db.rollback()  # a new snapshot sees the rebuilt rollups
    content = service.render(db=db, month=month, unit=unit, fmt="html", rt=rt, now=now)
    return HTMLResponse(content.decode("utf-8"))


@router.get("/reports/{report_id}/download", response_class=Response, responses={200: {
    "description": "the report file", "content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                  for t in service.MEDIA_TYPES.values()}}})
def download(report_id: int, db: SessionDep, user: Viewer) -> Response:
    r = db.get(Report, report_id)
    if r is None:
        raise HTTPException(404, f"报告 {report_id} 不存在")
    name = file_name(r.month, r.unit, r.format)
    return Response(r.content, media_type=service.MEDIA_TYPES[r.format],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "X-Content-SHA256": r.sha256})
