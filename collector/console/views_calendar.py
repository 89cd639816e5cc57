"""工作日历 (admin): which years the clocks know, importing a year from the pasted notice or a schedule."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from collector.calendar import service
from collector.console.web import AdminForm, ConsoleError, PageUser, clock, render, settings_of
from collector.deps import SessionDep
from collector.runtime import runtime
from collector.sla.calendar import ScheduleError
from collector.users.service import has_role

router = APIRouter(prefix="/console/calendar", include_in_schema=False)


def _page(request: Request, db: Session, *, text: str = "", year: str = "", error: str = "",
          preview: list[str] | None = None, done: service.ImportResult | None = None,
          status: int = 200) -> Response:
    rt = runtime(settings_of(request), db)
    now = clock(request)
    cov = service.coverage(rt.calendar, now)
    years = [{"year": y, "covered": ok, "source": rt.calendar.source_of(y)} for y, ok in cov.covered.items()]
    return render(request, "calendar.html", status=status, nav="calendar", years=years,
                  imports=service.history(db), text=text, year=year, error=error, preview=preview, done=done)


def _admin(me: PageUser) -> None:
    if not has_role(me.user, "admin"):
        raise ConsoleError(403, "工作日历只有管理员 (admin) 可以查看和导入。")


def _year(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
        raise ScheduleError(f"年份「{raw}」不正确, 应为如 2027 的四位年份")
    return int(raw)


@router.get("")
def calendar_page(request: Request, db: SessionDep, me: PageUser) -> Response:
    _admin(me)
    return _page(request, db)


@router.post("/preview")
def preview(request: Request, db: SessionDep, form: AdminForm) -> Response:
    text, year = form.fields.get("text", [""])[0], form.get("year")
    try:
        parsed = service.parse_text(text, year=_year(year))
    except ScheduleError as e:
        return _page(request, db, text=text, year=year, error=str(e), status=422)
    return _page(request, db, text=text, year=str(parsed.schedule.year), preview=service.preview(parsed.schedule))


@router.post("/import")
def import_year(request: Request, db: SessionDep, form: AdminForm) -> Response:
    text, year = form.fields.get("text", [""])[0], form.get("year")
    try:
        parsed = service.parse_text(text, year=_year(year))
    except ScheduleError as e:
        return _page(request, db, text=text, year=year, error=str(e), status=422)
    rt = runtime(settings_of(request), db)
    done = service.import_schedule(db=db, rt=rt, parsed=parsed, actor=form.active.user.name, now=clock(request))
    db.commit()
    return _page(request, db, done=done, preview=service.preview(parsed.schedule))
