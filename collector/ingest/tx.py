"""One ingest transaction: the driver connection for the hot path, an ORM session only when tickets move.

Most batches touch no ticket: they are written with a few fixed SQL statements on the driver connection
(no ORM, no SQL compilation). The first ticket action opens a Session on the same connection and
transaction, so tickets, states and results still commit, or roll back, together.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session


class Tx:
    def __init__(self, conn: sa.Connection, session: Optional[Session] = None, careful: bool = False) -> None:
        self.conn = conn
        self.raw: Any = conn.connection.driver_connection
        self.pg = conn.dialect.name == "postgresql"
        self._session = session
        # a second attempt after a failed transaction: no optimistic shortcut (collector.ingest.store)
        self.careful = careful

    @classmethod
    def of(cls, db: Session) -> Tx:
        """The transaction an existing ORM session is in."""
        return cls(db.connection(), db)

    @property
    def db(self) -> Session:
        if self._session is None:
            # joins the connection's transaction; the commit stays with whoever began it
            self._session = Session(bind=self.conn, expire_on_commit=False, join_transaction_mode="rollback_only")
        return self._session

    def flush(self) -> None:
        if self._session is not None:
            self._session.flush()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def query(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        cur = self.raw.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []
        finally:
            cur.close()

    def execute(self, sql: str, params: Any) -> int:
        cur = self.raw.cursor()
        try:
            cur.execute(sql, params)
            return cur.rowcount
        finally:
            cur.close()


def sqlite_time(t: datetime) -> str:
    """SQLAlchemy's storage format for a UTC datetime on SQLite."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
