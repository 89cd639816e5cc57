"""Database plumbing shared by every domain: engine, Base, portable column types, upserts."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


class Base(DeclarativeBase):
    pass


class UtcDateTime(sa.TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no offset) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; times must carry their offset")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# stored, not queried inside: PostgreSQL's json keeps the text as given, so an insert only checks its
# syntax instead of building jsonb (results.metrics and details, the bulk of ingest; migration 0007)
StoredJSON = sa.JSON().with_variant(postgresql.JSON(), "postgresql")


def make_engine(url: str, *, readonly: bool = False, background_checkpoints: bool = False,
                **kwargs: Any) -> Engine:
    """`readonly` engines (SQLite) begin deferred transactions, so reads never wait for the writer.
    `background_checkpoints` (SQLite): commits leave the WAL to a SqliteCheckpointer the caller runs."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if background_checkpoints:
            event.listen(engine, "connect", _sqlite_no_autocheckpoint)
        event.listen(engine, "begin", _sqlite_begin_deferred if readonly else _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # No pre-ping: it costs a round trip on every checkout (a tenth of an ingest request). A connection
    # that died with a PostgreSQL restart fails one request, is discarded by the pool, and the agent
    # retries that batch; recycling bounds how long an idle connection is kept.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    # An unreachable server answers 503 within seconds (collector.errors), not after the kernel's TCP timeout.
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    engine = sa.create_engine(url, **kwargs)
    event.listen(engine, "connect", _pg_arrays)
    return engine


def _pg_arrays(dbapi_conn: Any, _record: Any) -> None:
    from collector import pgarrays

    pgarrays.register(dbapi_conn)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers (console, /metrics) run beside the writer; NORMAL is durable in WAL mode
    # against process crashes, which is what a kill -9 of the collector tests.
    dbapi_conn.isolation_level = None  # let the 'begin' listener issue BEGIN itself
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # Index pages of a growing results table stay in memory: the default 2 MB page cache made every
    # batch re-read them (ingest 2x slower at 100k results); the OS shares mmap'd pages between processes.
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA mmap_size=268435456")
    cur.close()


def _sqlite_no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


class SqliteCheckpointer:
    """Copies the WAL back into the database file from a background thread, once a second.

    By default the commit that pushes the WAL past 1,000 pages does the checkpoint itself, while it
    holds the write lock: under ingest load that was most of the commit time (4-5 ms a batch, an fsync
    included). A PASSIVE checkpoint here runs beside the writer and the readers and never waits for
    them; a process that dies takes its thread with it and the next one (or SQLite's own checkpoint on
    the last close) catches up."""

    def __init__(self, engine: Engine, every: float = 1.0) -> None:
        self.path = engine.url.database or ""
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.path or self.path == ":memory:" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        import sqlite3

        conn = sqlite3.connect(self.path, timeout=0.1, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.every):
                self.checkpoint(conn)
        finally:
            self.checkpoint(conn)
            conn.close()

    @staticmethod
    def checkpoint(conn: Any) -> None:
        import sqlite3

        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.OperationalError:
            pass  # busy with another checkpointer: the next tick


def _sqlite_begin_immediate(conn: Any) -> None:
    # Take the write lock at BEGIN: avoids SQLITE_BUSY upgrade deadlocks between concurrent writers.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


class _SqliteWriteGate:
    """One SQLite writer at a time without the busy handler's sleep-and-retry (which backs off up to
    100 ms a try and makes tail latency explode under load): a thread lock inside the process and an
    fcntl lock on `<db>.writelock` across processes; the kernel drops the latter if a process dies."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.fd: int | None = None

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        import fcntl
        import os

        with self.lock:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.fd, fcntl.LOCK_UN)


_gates: dict[str, _SqliteWriteGate] = {}
_gates_lock = threading.Lock()


def write_gate(engine: Engine) -> contextlib.AbstractContextManager[None]:
    """Hold around a write transaction: serialises SQLite writers cheaply; nothing on PostgreSQL."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return contextlib.nullcontext()
    with _gates_lock:
        gate = _gates.get(database)
        if gate is None:
            gate = _gates[database] = _SqliteWriteGate(database + ".writelock")
    return gate.hold()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgres(bind: Any) -> bool:
    return bind.dialect.name == "postgresql"


def insert_for(bind: Any, table: Any) -> Any:
    """The dialect's INSERT, which has on_conflict_do_nothing/update on both SQLite and PostgreSQL."""
    return (postgresql.insert if is_postgres(bind) else sqlite.insert)(table)


def upsert(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str],
           update: Sequence[str]) -> None:
    if not rows:
        return
    stmt = insert_for(session.get_bind(), table)
    stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                      set_={c: getattr(stmt.excluded, c) for c in update})
    session.execute(stmt, list(rows))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
