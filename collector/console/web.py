"""What every console page shares: templates, the session dependencies, CSRF-checked forms, errors."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional
from urllib.parse import parse_qs, quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from collector.config import Settings
from collector.console import auth, labels
from collector.db import utcnow
from collector.timefmt import zone
from collector.users.service import has_role

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 256 * 1024

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)
labels.register(_env)


class ConsoleError(Exception):
    """Answered with an HTML page (not the API's JSON) carrying `status`."""

    def __init__(self, status: int, message: str, title: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.title = title


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def clock(request: Request) -> datetime:
    """The app's clock (`app.state.clock`, replaceable in tests), for what depends on the date."""
    return getattr(request.app.state, "clock", utcnow)()


def calendar_banner(request: Request, active: Optional[auth.Active]) -> str:
    """The missing-calendar warning for admins and engineers ("" when every near year is covered)."""
    if active is None or not has_role(active.user, "engineer"):
        return ""
    from collector.calendar.service import coverage, sync
    from collector.runtime import runtime

    cal = runtime(settings_of(request)).calendar
    with request.app.state.read_sessionmaker() as db:
        sync(db, cal)
    return coverage(cal, clock(request)).message


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    settings = settings_of(request)
    active: Optional[auth.Active] = getattr(request.state, "console", None)
    base = {"request": request, "me": active.user if active else None, "csrf": active.csrf if active else "",
            "can_edit": bool(active and has_role(active.user, "engineer")), "tz": settings.timezone,
            "now": utcnow(), "path": request.url.path,
            "is_admin": bool(active and has_role(active.user, "admin")),
            "calendar_banner": calendar_banner(request, active)}
    html = _env.get_template(template).render(**base, **ctx)
    return HTMLResponse(html, status_code=status)


ERROR_TITLES = {403: "无权操作", 404: "未找到", 409: "操作冲突", 422: "内容有误"}


def error_page(request: Request, status: int, message: str, title: str = "") -> HTMLResponse:
    return render(request, "error.html", status=status, status_code=status, message=message,
                  title=title or ERROR_TITLES.get(status, "出错了"))


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def login_redirect(next_path: str) -> RedirectResponse:
    return redirect("/console/login?next=" + quote(next_path, safe="/"))


def secure_cookie(request: Request) -> bool:
    settings = settings_of(request)
    if settings.console.secure_cookie is not None:
        return settings.console.secure_cookie
    return request.url.scheme == "https" or (settings.public_url or "").startswith("https://")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: Optional[int]) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/console", httponly=True, samesite="lax",
                        secure=secure_cookie(request))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


# --- dependencies -------------------------------------------------------------------------------

def console_session(request: Request) -> Optional[auth.Active]:
    """The browser's session, if valid (checked in the shared table, so any collector process answers)."""
    settings = settings_of(request)
    token = request.cookies.get(auth.COOKIE)
    now = utcnow()
    # Read first (no write lock on SQLite); write only to touch (once a minute) or drop a dead session.
    with request.app.state.read_sessionmaker() as db:
        active, write = auth.peek(db=db, token=token, now=now, cfg=settings.console)
    if write and token:
        with request.app.state.sessionmaker() as db:
            auth.apply(db=db, token=token, now=now, alive=active is not None)
            db.commit()
    request.state.console = active
    if active is not None:
        request.state.session_user = active.user  # deps.current_user honours it (console routes only)
        request.state.user = active.user
    return active


def page_user(request: Request, active: Annotated[Optional[auth.Active], Depends(console_session)]) -> auth.Active:
    if active is None:
        target = request.url.path if request.method == "GET" else "/console/"
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        raise LoginRequired(target)
    return active


PageUser = Annotated[auth.Active, Depends(page_user)]


@dataclass
class Form:
    """An urlencoded form whose CSRF token matched the session's."""

    active: auth.Active
    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def has(self, name: str) -> bool:
        return name in self.fields


async def csrf_form(request: Request, active: PageUser) -> Form:
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        raise ConsoleError(413, "表单内容过大")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ConsoleError(413, "表单内容过大")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise ConsoleError(400, "表单内容无法解析") from None
    given = (fields.get("csrf") or [""])[0]
    if not auth.csrf_ok(active.csrf, given):
        raise ConsoleError(403, "表单校验失败 (CSRF 令牌缺失或不符)。请返回上一页, 刷新后重新提交。",
                           title="请求被拒绝")
    return Form(active=active, fields=fields)


def engineer_form(form: Annotated[Form, Depends(csrf_form)]) -> Form:
    if not has_role(form.active.user, "engineer"):
        raise ConsoleError(403, "只读账号 (viewer) 可以查看, 不能修改。")
    return form


def admin_form(form: Annotated[Form, Depends(csrf_form)]) -> Form:
    if not has_role(form.active.user, "admin"):
        raise ConsoleError(403, "只有管理员 (admin) 可以执行此操作。")
    return form


PostedForm = Annotated[Form, Depends(csrf_form)]
AdminForm = Annotated[Form, Depends(admin_form)]
EngineerForm = Annotated[Form, Depends(engineer_form)]


def local_input(value: str, tz: str) -> Optional[datetime]:
    """A <input type=datetime-local> value, read in the service's time zone."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
        dt = dt.replace(tzinfo=zone(tz)) if dt.tzinfo is None else dt
        dt.astimezone(timezone.utc)  # stored in UTC: year 9999 or 1 with an offset has no UTC time
    except (ValueError, OverflowError):
        raise ConsoleError(422, f"时间格式不正确: {value}") from None
    return dt


def row_id(value: str) -> Optional[int]:
    """A form's id field (user, ticket): ASCII digits within a database INTEGER, else None ("²" and
    "٣" are digits to str.isdigit, and 10**20 does not fit the column)."""
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    n = int(value)
    return n if 0 < n < 2**31 else None
