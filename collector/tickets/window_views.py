"""/api/v1/support-windows: 7×24 windows (故障处理 / 系统升级), opened and closed by an admin."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, Field

from collector.deps import Admin, SessionDep, SettingsDep, Viewer
from collector.runtime import runtime
from collector.sla.policy import WINDOW_KIND_ZH
from collector.tickets import windows as support
from collector.tickets.fields import Text128, Text300
from collector.tickets.models import SupportWindow
from collector.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["support windows"])


class SupportWindowIn(BaseModel):
    """Cases reported inside the window (and matching its unit/host/system; empty matches all) get their
    response deadline on clock hours until the window ends."""

    kind: Literal["incident", "upgrade"] = Field(description="incident 故障处理 | upgrade 系统升级")
    title: Annotated[Text300, Field(min_length=1, max_length=200)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    unit: Text128 = ""
    host: Text128 = ""
    system: Literal["", "voucher", "seal", "mq", "os"] = ""


class SupportWindowOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    title: str
    unit: str
    host: str
    system: str
    starts_at: Optional[str]
    ends_at: Optional[str]
    created_by: str
    closed_by: str
    closed_at: Optional[str]


class SupportWindowPage(BaseModel):
    items: list[SupportWindowOut]
    next: Optional[str]


def window_out(w: SupportWindow, tz: str) -> dict[str, Any]:
    return {"id": w.id, "kind": w.kind, "kind_label": WINDOW_KIND_ZH.get(w.kind, w.kind), "title": w.title,
            "unit": w.unit, "host": w.host, "system": w.system, "starts_at": iso(w.starts_at, tz),
            "ends_at": iso(w.ends_at, tz), "created_by": w.created_by, "closed_by": w.closed_by,
            "closed_at": iso(w.closed_at, tz)}


@router.post("/support-windows", status_code=201, response_model=SupportWindowOut)
def open_window(body: SupportWindowIn, request: Request, db: SessionDep, settings: SettingsDep,
                user: Admin) -> Any:
    try:
        w = support.create(db=db, rt=runtime(settings, db), kind=body.kind, title=body.title,
                           starts_at=body.starts_at, ends_at=body.ends_at, unit=body.unit, host=body.host,
                           system=body.system, actor=user.name, now=request.app.state.clock())
    except support.WindowError as e:
        raise HTTPException(422, str(e)) from None
    db.commit()
    return window_out(w, settings.timezone)


@router.get("/support-windows", response_model=SupportWindowPage)
def list_windows(db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    return {"items": [window_out(w, settings.timezone) for w in support.list_windows(db=db)], "next": None}


@router.post("/support-windows/{window_id}/close", response_model=SupportWindowOut)
def close_window(window_id: int, request: Request, db: SessionDep, settings: SettingsDep, user: Admin) -> Any:
    w = db.get(SupportWindow, window_id) if 0 < window_id < 2**31 else None
    if w is None:
        raise HTTPException(404, f"7×24 窗口 {window_id} 不存在")
    try:
        support.close(db=db, rt=runtime(settings, db), window=w, actor=user.name, now=request.app.state.clock())
    except support.WindowError as e:
        raise HTTPException(409, str(e)) from None
    db.commit()
    return window_out(w, settings.timezone)
