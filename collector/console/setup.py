"""Wiring the console into the application: routers, security headers, HTML error pages."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, Response

from collector.console import web

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript"}
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                 b"form-action 'self'; base-uri 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]

static_router = APIRouter(include_in_schema=False)


@static_router.get("/")
def root() -> Response:
    return web.redirect("/console/")


@static_router.get("/console/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(404, "无此文件")
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "max-age=300"})


fallback_router = APIRouter(include_in_schema=False)


@fallback_router.get("/console/{rest:path}")
def not_found(rest: str) -> Response:
    raise web.ConsoleError(404, "没有这个页面。")


class SecurityHeaders:
    """Adds the console's headers (and no-store for its pages) to every answer under /console."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/" or path.startswith("/console")):
            return await self.app(scope, receive, send)
        static_file = path.startswith("/console/static/")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in dict(SECURITY_HEADERS)]
                headers.extend(SECURITY_HEADERS)
                if not static_file:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    from collector.console import (
        views_auth,
        views_calendar,
        views_dashboard,
        views_hosts,
        views_maintenance,
        views_reports,
        views_support,
        views_templates,
        views_tickets,
    )

    for module in (views_auth, views_dashboard, views_tickets, views_hosts, views_maintenance, views_reports,
                   views_calendar, views_templates, views_support):
        app.include_router(module.router)
    app.include_router(static_router)
    app.include_router(fallback_router)  # last: only paths no console page claimed
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(web.ConsoleError)
    async def console_error(request: Request, exc: web.ConsoleError) -> Response:
        return web.error_page(request, exc.status, exc.message, exc.title)

    @app.exception_handler(web.LoginRequired)
    async def login_required(request: Request, exc: web.LoginRequired) -> Response:
        return web.login_redirect(exc.next_path)
