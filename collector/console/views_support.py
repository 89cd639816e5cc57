"""7×24 窗口 (故障处理 / 系统升级): list for everyone, open and close for admins
(collector.tickets.windows does the work). Not maintenance windows: those open no tickets."""
from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from checks.model import SYSTEMS
from collector.console import queries
from collector.console.web import AdminForm, ConsoleError, PageUser, clock, local_input, redirect, render, settings_of
from collector.deps import SessionDep
from collector.runtime import runtime
from collector.tickets import windows as support
from collector.tickets.fields import text_problem
from collector.tickets.models import SupportWindow
from collector.users.models import User

router = APIRouter(prefix="/console/support-windows", include_in_schema=False)
LIMITS = {"title": 200, "unit": 128, "host": 128}


def _page(request: Request, db: Session, values: dict[str, str], error: str = "", status: int = 200) -> Response:
    windows = support.list_windows(db=db)
    logins = {w.created_by for w in windows} | {w.closed_by for w in windows if w.closed_by}
    q = sa.select(User.name, User.display_name).where(User.name.in_(logins))
    names = {login: shown for login, shown in db.execute(q) if shown} if logins else {}
    return render(request, "support_windows.html", status=status, windows=windows, names=names, values=values,
                  error=error,
                  units=queries.units(db=db), hosts=queries.host_names(db=db),
                  systems=SYSTEMS, kinds=support.KINDS, app_now=clock(request), nav="support")


@router.get("")
def windows(request: Request, db: SessionDep, me: PageUser) -> Response:
    return _page(request, db, {"kind": "incident"})


@router.post("")
def open_window(request: Request, db: SessionDep, form: AdminForm) -> Response:
    tz = settings_of(request).timezone
    values = {k: form.get(k) for k in ("kind", "title", "unit", "host", "system", "starts_at", "ends_at")}
    problems = []
    if values["kind"] not in support.KINDS:
        problems.append("请选择窗口类型 (故障处理 / 系统升级)")
    if not values["title"]:
        problems.append("请填写标题")
    problems += [f"{label}过长 (最多 {LIMITS[k]} 字)" for k, label in (("title", "标题"), ("unit", "客户单位"),
                                                                   ("host", "主机")) if len(values[k]) > LIMITS[k]]
    problems += [f"{k}: {p}" for k in ("title", "unit", "host") if (p := text_problem(values[k]))]
    if values["system"] not in ("", *SYSTEMS):
        problems.append("系统不正确")
    starts, ends = local_input(values["starts_at"], tz), local_input(values["ends_at"], tz)
    if starts is None or ends is None:
        problems.append("请填写开始和结束时间")
    if problems:
        return _page(request, db, values, "; ".join(problems), 422)
    assert starts is not None and ends is not None
    try:
        support.create(db=db, rt=runtime(settings_of(request), db), kind=values["kind"], title=values["title"],
                       starts_at=starts, ends_at=ends, unit=values["unit"], host=values["host"],
                       system=values["system"], actor=form.active.user.name, now=clock(request))
    except support.WindowError as e:
        db.rollback()
        return _page(request, db, values, str(e), 422)
    db.commit()
    return redirect("/console/support-windows")


@router.post("/{window_id}/close")
def close_window(request: Request, window_id: int, db: SessionDep, form: AdminForm) -> Response:
    w = db.get(SupportWindow, window_id) if 0 < window_id < 2**31 else None
    if w is None:
        raise ConsoleError(404, f"7×24 窗口 {window_id} 不存在")
    if w.closed_at is None:
        support.close(db=db, rt=runtime(settings_of(request), db), window=w, actor=form.active.user.name,
                      now=clock(request))
        db.commit()
    return redirect("/console/support-windows")
