"""One number from a read-only SQL query (e.g. vouchers stuck unsent), judged against thresholds.

SQLAlchemy and the driver are imported lazily: only servers that run this check need them. The
query runs in a read-only transaction under a deadline (PostgreSQL: statement_timeout and
default_transaction_read_only; MySQL: MAX_EXECUTION_TIME; SQLite: query_only and an interrupt).
The password stays out of the configuration (url_file, password_env or password_file) and out
of every message.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from checks.base import Check, Outcome
from checks.model import Metric, Status
from checks.options import Duration, Threshold
from checks.text import clean_text
from checks.thresholds import as_text, evaluate

_CONNECT_FAILURES = ("connection refused", "could not connect", "can't connect", "unable to open",
                     "timeout expired", "no route to host", "name or service not known",
                     "could not translate host name", "unknown mysql server host", "lost connection")


@dataclass
class SqlOptions:
    query: str
    url: Optional[str] = None            # SQLAlchemy URL without the password ...
    url_file: Optional[str] = None       # ... or a file (mode 600) holding the whole URL
    password_env: Optional[str] = None   # environment variable holding the password
    password_file: Optional[str] = None  # or a file holding it (first line)
    warn: Optional[Threshold] = None
    crit: Optional[Threshold] = None
    metric: str = "value"                # metric name, e.g. unsent_vouchers
    unit: str = ""
    label: Optional[str] = None          # words for the summary, e.g. 未发送凭证
    query_timeout: Duration = 30.0
    connect_timeout: Duration = 10.0

    def validate(self) -> None:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("give exactly one of url or url_file")
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")
        if not self.query.strip():
            raise ValueError("query must not be empty")
        if self.query_timeout <= 0 or self.connect_timeout <= 0:
            raise ValueError("timeouts must be positive")


class SqlError(Exception):
    def __init__(self, status: Status, text: str) -> None:
        super().__init__(text)
        self.status = status


class SqlCheck(Check):
    type = "sql"
    Options = SqlOptions

    def __init__(self, options: Any, **kw: Any) -> None:
        super().__init__(options, **kw)
        self._engine: Any = None
        self._secret: Optional[str] = None

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def run(self) -> Outcome:
        o: SqlOptions = self.options
        name = o.label or o.metric
        try:
            value, elapsed, where = self._query()
        except SqlError as e:
            return Outcome(e.status, self._scrub(f"{o.label}: {e}" if o.label else str(e)))
        status = evaluate(value, o.warn, o.crit)
        summary = f"{name}: {value:g}{o.unit}"
        if status != Status.OK:
            summary += f" (阈值 警告 {o.warn or '-'} / 严重 {o.crit or '-'})"
        metric = Metric(o.metric, value, o.unit, warn=as_text(o.warn), crit=as_text(o.crit))
        return Outcome(status, summary, [metric], {"database": where, "query_seconds": round(elapsed, 6)})

    # -- connection -----------------------------------------------------------------------------

    def _url(self) -> Any:
        from sqlalchemy.engine import make_url

        o: SqlOptions = self.options
        try:
            raw = o.url if o.url is not None else Path(str(o.url_file)).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise SqlError(Status.UNKNOWN, f"无法读取 url_file {o.url_file}: {e.strerror}") from None
        try:
            url = make_url(raw)
        except Exception:  # the text may hold a password: never echo it
            raise SqlError(Status.UNKNOWN, "数据库 URL 格式错误") from None
        secret = None
        if o.password_env:
            secret = os.environ.get(o.password_env)
            if secret is None:
                raise SqlError(Status.UNKNOWN, f"环境变量 {o.password_env} 未设置 (数据库密码)")
        elif o.password_file:
            try:
                lines = Path(o.password_file).read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise SqlError(Status.UNKNOWN, f"无法读取 password_file {o.password_file}: {e.strerror}") \
                    from None
            secret = lines[0] if lines else ""
        if secret is not None:
            url = url.set(password=secret)
        self._secret = url.password if url.password else None
        return url

    def _get_engine(self) -> Any:
        if self._engine is not None:
            return self._engine
        from sqlalchemy import create_engine, exc
        from sqlalchemy.pool import NullPool

        o: SqlOptions = self.options
        url = self._url()
        backend = url.get_backend_name()
        args: dict[str, Any] = {}
        if backend == "postgresql":
            ms = int(o.query_timeout * 1000)
            args = {"connect_timeout": max(1, math.ceil(o.connect_timeout)),
                    "application_name": "xunjian-agent",
                    "options": f"-c statement_timeout={ms} -c lock_timeout={ms} "
                               f"-c default_transaction_read_only=on"}
        elif backend in ("mysql", "mariadb"):
            args = {"connect_timeout": max(1, math.ceil(o.connect_timeout))}
        elif backend == "sqlite":
            args = {"timeout": o.connect_timeout}
        try:  # NullPool: a check every few minutes should not hold a session open in between
            self._engine = create_engine(url, poolclass=NullPool, connect_args=args)
        except ImportError as e:
            raise SqlError(Status.UNKNOWN, f"缺少数据库驱动: {e.name or e}") from None
        except exc.ArgumentError as e:  # NoSuchModuleError: unknown dialect or driver name
            raise SqlError(Status.UNKNOWN, f"不支持的数据库类型: {e}") from None
        return self._engine

    # -- query ----------------------------------------------------------------------------------

    def _query(self) -> tuple[float, float, str]:
        from sqlalchemy import exc, text

        o: SqlOptions = self.options
        engine = self._get_engine()
        where = engine.url.render_as_string(hide_password=True)
        backend = engine.url.get_backend_name()
        try:
            conn = engine.connect()
        except exc.DBAPIError as e:
            raise SqlError(_connect_status(e), f"数据库连接失败 ({where}): {_first_line(e)}") from None
        except exc.SQLAlchemyError as e:
            raise SqlError(Status.UNKNOWN, f"数据库连接失败 ({where}): {_first_line(e)}") from None
        fired = threading.Event()
        timer = threading.Timer(o.query_timeout + 0.5, _interrupt, (conn, fired))
        t0 = time.monotonic()
        try:
            with conn:
                for stmt in _read_only_statements(backend, o.query_timeout):
                    conn.execute(text(stmt))
                timer.start()
                row = conn.execute(text(o.query)).first()
                conn.rollback()  # nothing to keep, ever
        except exc.DBAPIError as e:
            msg = _first_line(e)
            if _is_timeout(msg) or fired.is_set():
                raise SqlError(Status.UNKNOWN, f"查询超时 (超过 {o.query_timeout:g} 秒): {msg}") from None
            raise SqlError(Status.UNKNOWN, f"查询失败: {msg}") from None
        except exc.SQLAlchemyError as e:
            raise SqlError(Status.UNKNOWN, f"查询失败: {_first_line(e)}") from None
        finally:
            timer.cancel()
        elapsed = time.monotonic() - t0
        if row is None:
            raise SqlError(Status.UNKNOWN, "查询没有返回行")
        return _number(row[0]), elapsed, where

    def _scrub(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        return text


def _read_only_statements(backend: str, timeout: float) -> list[str]:
    """Statements that make this transaction read-only (and bounded) before the query runs."""
    if backend == "postgresql":
        return ["SET TRANSACTION READ ONLY"]  # also default_transaction_read_only at connect
    if backend in ("mysql", "mariadb"):
        return [f"SET SESSION MAX_EXECUTION_TIME={int(timeout * 1000)}", "START TRANSACTION READ ONLY"]
    if backend == "sqlite":
        return ["PRAGMA query_only = ON"]
    if backend == "oracle":
        return ["SET TRANSACTION READ ONLY"]
    return []


def _interrupt(conn: Any, fired: threading.Event) -> None:
    """Deadline passed: ask the driver to abandon the running statement (sqlite3 interrupt(),
    psycopg cancel()); PostgreSQL's own statement_timeout normally fires first."""
    fired.set()
    try:
        dbapi = conn.connection.dbapi_connection
    except Exception:
        return
    for name in ("interrupt", "cancel"):
        fn = getattr(dbapi, name, None)
        if callable(fn):
            try:
                fn()
            except Exception:
                pass
            return


def _number(value: Any) -> float:
    if value is None:
        raise SqlError(Status.UNKNOWN, "查询结果为空值 (NULL)")
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, Decimal)):
        f = float(value)
    else:
        try:
            f = float(str(value).strip())
        except ValueError:
            raise SqlError(Status.UNKNOWN, f"查询结果不是数字: {str(value)[:60]!r}") from None
    if not math.isfinite(f):
        raise SqlError(Status.UNKNOWN, f"查询结果不是有限数字: {f}")
    return f


def _first_line(e: Exception) -> str:
    orig = getattr(e, "orig", None)
    text = clean_text(str(orig if orig is not None else e)).strip()  # a server's message is outside text
    return (text.splitlines() or [type(e).__name__])[0][:300]


def _connect_status(e: Exception) -> Status:
    """Cannot reach the database at all: CRITICAL; anything else (auth, unknown db): UNKNOWN."""
    msg = _first_line(e).lower()
    return Status.CRITICAL if any(k in msg for k in _CONNECT_FAILURES) else Status.UNKNOWN


def _is_timeout(msg: str) -> bool:
    m = msg.lower()
    return ("statement timeout" in m or "interrupted" in m or "canceling statement" in m
            or "max_execution_time" in m or "query execution was interrupted" in m)
