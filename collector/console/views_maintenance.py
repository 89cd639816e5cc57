"""维护窗口: list, create, cancel (collector.maintenance.service does the work)."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from checks.model import SYSTEMS
from collector.console import queries
from collector.console.web import ConsoleError, EngineerForm, PageUser, local_input, redirect, render, settings_of
from collector.db import utcnow
from collector.deps import SessionDep
from collector.maintenance import service
from collector.maintenance.models import MaintenanceWindow

router = APIRouter(prefix="/console/maintenance", include_in_schema=False)


def _page(request: Request, db: Session, values: dict[str, str], error: str = "", status: int = 200) -> Response:
    return render(request, "maintenance.html", status=status, windows=service.list_windows(db=db), values=values,
                  error=error, units=queries.units(db=db), hosts=queries.host_names(db=db), systems=SYSTEMS,
                  nav="maintenance")


@router.get("")
def windows(request: Request, db: SessionDep, me: PageUser) -> Response:
    return _page(request, db, {})


@router.post("")
def create(request: Request, db: SessionDep, form: EngineerForm) -> Response:
    tz = settings_of(request).timezone
    values = {k: form.get(k) for k in ("title", "unit", "host", "system", "starts_at", "ends_at")}
    if not values["title"] or len(values["title"]) > 200:
        return _page(request, db, values, "请填写标题 (不超过 200 字)", 422)
    if values["system"] not in ("", *SYSTEMS):
        return _page(request, db, values, "系统不正确", 422)
    starts, ends = local_input(values["starts_at"], tz), local_input(values["ends_at"], tz)
    if starts is None or ends is None:
        return _page(request, db, values, "请填写开始和结束时间", 422)
    try:
        service.create(db=db, title=values["title"], starts_at=starts, ends_at=ends, unit=values["unit"][:128],
                       host=values["host"][:128], system=values["system"], actor=form.active.user.name, now=utcnow())
    except ValueError as e:
        return _page(request, db, values, str(e), 422)
    db.commit()
    return redirect("/console/maintenance")


@router.post("/{window_id}/cancel")
def cancel(window_id: int, db: SessionDep, form: EngineerForm) -> Response:
    w = db.get(MaintenanceWindow, window_id)
    if w is None:
        raise ConsoleError(404, f"维护窗口 {window_id} 不存在")
    if w.cancelled_at is None:
        service.cancel(db=db, window=w, now=utcnow())
        db.commit()
    return redirect("/console/maintenance")
