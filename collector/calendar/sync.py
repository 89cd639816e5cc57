"""This process's calendar kept up to the imports in the database (cheap when nothing changed)."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.calendar.models import CalendarImport
from collector.sla.calendar import Schedule, WorkCalendar


def _schedule_of(row: CalendarImport) -> Schedule:
    return Schedule(year=row.year, source=row.source,
                    holidays={date.fromisoformat(d): n for d, n in row.holidays},
                    workdays={date.fromisoformat(d): n for d, n in row.workdays})


# built once: every flow that moves a ticket asks (collector.flows), and building the statement cost more
# than running it
_GENERATION = sa.select(sa.func.max(CalendarImport.id))


def generation(db: Session) -> int:
    return db.scalar(_GENERATION) or 0


def sync(db: Session, calendar: WorkCalendar) -> bool:
    """Bring `calendar` up to the database's imports; True if it changed. Cheap when nothing did."""
    gen = generation(db)
    if gen == (calendar.generation or 0):
        return False
    rows = db.scalars(sa.select(CalendarImport).order_by(CalendarImport.id))
    newest = {row.year: row for row in rows}  # ordered by id: the last row of a year is in force
    calendar.set_imported([_schedule_of(r) for r in newest.values()], gen)
    return True
