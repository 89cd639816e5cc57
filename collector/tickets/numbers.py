"""Human ticket numbers: FW-202611-0001, counted per month in the service's time zone."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from collector.db import insert_for
from collector.tickets.models import Counter


def next_number(*, db: Session, prefix: str, at: datetime, tz: str) -> str:
    month = at.astimezone(ZoneInfo(tz)).strftime("%Y%m")
    name = f"ticket:{prefix}:{month}"
    table = Counter.__table__
    stmt = insert_for(db.get_bind(), table).values(name=name, value=1)
    # One atomic statement: concurrent collector processes never get the same number.
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": table.c.value + 1})
    value = db.execute(stmt.returning(table.c.value)).scalar_one()
    return f"{prefix}-{month}-{value:04d}"
