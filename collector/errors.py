"""Answers for failures that are not the request's own: the database unreachable (503 with Retry-After,
so agents keep their batches spooled and retry), and the driver's own data errors (422) where the hot
path bypasses SQLAlchemy."""
from __future__ import annotations

import logging
import sqlite3
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("xunjian.collector")
RETRY_AFTER = 15  # seconds: about how long a PostgreSQL restart or fail-over takes

try:  # the driver's own classes: the ingest hot path runs statements on the driver connection
    import psycopg

    _DRIVER_DOWN: tuple[type[BaseException], ...] = (psycopg.OperationalError, psycopg.InterfaceError)
    _DRIVER_DATA: tuple[type[BaseException], ...] = (psycopg.DataError,)
except ImportError:  # pragma: no cover - SQLite-only installs
    _DRIVER_DOWN, _DRIVER_DATA = (), ()

# SQLSTATE classes: 08 connection exception, 57P01..57P03 shutdown / cannot connect now, 53 resources
_DOWN_STATES = ("08", "57P0", "53")


def db_unavailable(e: BaseException) -> bool:
    """True when `e` says the database cannot be reached or is shutting down (not a bad statement)."""
    if isinstance(e, PoolTimeout):
        return True
    if isinstance(e, DBAPIError) and e.connection_invalidated:
        return True
    orig = getattr(e, "orig", e)
    state = str(getattr(orig, "sqlstate", "") or "")
    if state:
        return state.startswith(_DOWN_STATES)
    if isinstance(orig, sqlite3.OperationalError):
        return "locked" in str(orig) or "unable to open" in str(orig) or "disk I/O" in str(orig)
    return isinstance(e, (OperationalError, InterfaceError, *_DRIVER_DOWN))


def value_out_of_range(e: BaseException) -> bool:
    """A value the database cannot hold (SQLSTATE class 22: an integer too big for its column, ...)."""
    orig = getattr(e, "orig", e)
    return str(getattr(orig, "sqlstate", "") or "").startswith("22") or isinstance(orig, OverflowError)


def db_name(engine: sa.Engine) -> str:
    """The database as an operator knows it, without password."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite {url.database}"
    return f"{url.get_backend_name()} {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def short(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def unavailable_response(request: Request) -> JSONResponse:
    name = db_name(request.app.state.engine)
    return JSONResponse({"detail": {"message": f"数据库暂时不可用 ({name}), 请稍后重试", "errors": []}},
                        status_code=503, headers={"Retry-After": str(RETRY_AFTER)})


def install(app: FastAPI) -> None:
    async def database_error(request: Request, exc: Exception) -> Any:
        if db_unavailable(exc):
            log.warning("database unavailable: %s", short(exc))
            return unavailable_response(request)
        if value_out_of_range(exc):  # as collector.limits answers SQLAlchemy's DataError
            return JSONResponse({"detail": {"message": "参数超出允许范围", "errors": []}}, status_code=422)
        raise exc

    # SQLAlchemy's DataError and OverflowError: collector.limits.install_input_guards
    for kind in (OperationalError, InterfaceError, PoolTimeout, sqlite3.Error, *_DRIVER_DOWN, *_DRIVER_DATA):
        app.add_exception_handler(kind, database_error)
