from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from collector.db import utcnow
from collector.deps import Engineer, SessionDep, SettingsDep, Viewer
from collector.maintenance import service
from collector.maintenance.models import MaintenanceWindow
from collector.maintenance.schemas import WindowIn, WindowOut
from collector.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["maintenance"])


@router.post("/maintenance", status_code=201, response_model=WindowOut)
def create_window(body: WindowIn, db: SessionDep, settings: SettingsDep, user: Engineer) -> Any:
    try:
        w = service.create(db=db, title=body.title, starts_at=body.starts_at, ends_at=body.ends_at, unit=body.unit,
                           host=body.host, system=body.system, actor=user.name, now=utcnow())
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    return WindowOut.of(w, settings.timezone)


@router.get("/maintenance", response_model=Page[WindowOut])
def list_windows(db: SessionDep, settings: SettingsDep, user: Viewer, active: bool = False) -> Any:
    rows = service.list_windows(db=db, active_at=utcnow() if active else None)
    return Page(items=[WindowOut.of(w, settings.timezone) for w in rows])


@router.delete("/maintenance/{window_id}", response_model=WindowOut)
def cancel_window(window_id: int, db: SessionDep, settings: SettingsDep, user: Engineer) -> Any:
    w = db.get(MaintenanceWindow, window_id)
    if w is None:
        raise HTTPException(404, f"维护窗口 {window_id} 不存在")
    service.cancel(db=db, window=w, now=utcnow())
    return WindowOut.of(w, settings.timezone)
