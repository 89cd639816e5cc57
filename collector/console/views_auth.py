"""Login and logout. The login form has its own CSRF token (a cookie matched by a hidden field),
since there is no session yet to keep it in."""
from __future__ import annotations

import os
import secrets
from functools import partial
from typing import Annotated, Any, Optional
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from collector.console import auth
from collector.console.web import (
    MAX_FORM_BYTES,
    ConsoleError,
    PostedForm,
    client_ip,
    console_session,
    redirect,
    render,
    set_cookie,
    settings_of,
)
from collector.db import utcnow
from collector.limits import IngestGate, Overloaded

router = APIRouter(prefix="/console", include_in_schema=False)
LOGIN_COOKIE = "xj_login"


def safe_next(value: Optional[str]) -> str:
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/"


def _login_page(request: Request, next_path: str, error: str = "", name: str = "", status: int = 200,
                retry_after: float = 0) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, next=next_path, error=error, name=name, login_csrf=token)
    set_cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    if retry_after:
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
    return response


@router.get("/login")
def login_form(request: Request, active: Annotated[Optional[auth.Active], Depends(console_session)],
               next: Optional[str] = None) -> Response:
    if active is not None:
        return redirect(safe_next(next))
    return _login_page(request, safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ConsoleError(413, "表单内容过大")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not auth.csrf_ok(expected, fields.get("csrf")):
        raise ConsoleError(403, "登录表单已失效 (CSRF 校验失败)。请刷新登录页后重试。", title="请求被拒绝")
    name = fields.get("username", "").strip()[:64]
    password = fields.get("password", "")
    next_path = safe_next(fields.get("next"))
    cfg = settings_of(request).console
    ip = client_ip(request)
    user_agent = request.headers.get("user-agent", "")
    # The password check (scrypt, ~100 ms of CPU) and the database work run on a worker thread: on the
    # event loop they would hold up every other request of this process, ingest included. At most half
    # the CPUs check passwords at once (a login flood must leave the loop a core); the rest wait here,
    # on the loop, not in worker threads, and after 10 s are told to come back.
    try:
        async with _password_gate(request.app.state):
            wait, token = await run_in_threadpool(partial(
                auth.login, read=request.app.state.read_sessionmaker, write=request.app.state.sessionmaker,
                name=name, password=password, ip=ip, now=utcnow(), cfg=cfg, user_agent=user_agent,
                old_cookie=request.cookies.get(auth.COOKIE)))
    except Overloaded as e:
        return _login_page(request, next_path, name=name, status=503, error="登录请求过多, 请稍后再试。",
                           retry_after=e.retry_after)
    if wait:
        minutes = wait / 60
        when = f"{minutes:.0f} 分钟" if wait >= 90 else f"{max(1, round(wait))} 秒"
        return _login_page(request, next_path, name=name, status=429,
                           error=f"登录失败次数过多, 请 {when}后再试。", retry_after=wait)
    if token is None:
        return _login_page(request, next_path, name=name, status=401, error="用户名或密码错误。")
    response = redirect(next_path)
    set_cookie(request, response, auth.COOKIE, token, max_age=int(cfg.absolute_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


def _password_gate(state: Any) -> IngestGate:
    gate = getattr(state, "password_gate", None)
    if gate is None:
        gate = state.password_gate = IngestGate(max(1, (os.cpu_count() or 2) // 2), wait_ms=10_000, retry_after=5)
    return gate


@router.post("/logout")
def logout(request: Request, form: PostedForm) -> Response:
    with request.app.state.sessionmaker() as db:
        auth.end(db=db, token=request.cookies.get(auth.COOKIE))
        db.commit()
    response = redirect("/console/login")
    response.delete_cookie(auth.COOKIE, path="/console", httponly=True, samesite="lax")
    return response
