"""Return visits (用户回访): recorded by engineers, counted in the monthly report."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.tickets import satisfaction
from collector.tickets.models import Ticket
from collector.users.models import User
from collector.visits.models import Visit


def record(*, db: Session, actor: User, now: datetime, data: dict[str, Any]) -> Visit:
    visit = Visit(date=data["date"], unit=data.get("unit") or "", customer_name=data.get("customer_name") or "",
                  method=data["method"], answers=list(data.get("answers") or []),
                  satisfaction=data["satisfaction"], comment=data.get("comment") or "",
                  ticket_id=data.get("ticket_id"), engineer_name=actor.display_name or actor.name,
                  engineer_number=actor.number, created_by=actor.name, created_at=now)
    db.add(visit)
    db.flush()
    return visit


def in_range(*, db: Session, start: date, end: date, unit: Optional[str] = None) -> list[Visit]:
    """Visits with start <= date < end, oldest first; `unit` '' or None = every unit."""
    q = sa.select(Visit).where(Visit.date >= start, Visit.date < end).order_by(Visit.date, Visit.id)
    if unit:
        q = q.where(Visit.unit == unit)
    return list(db.scalars(q))


def month_rate(*, db: Session, start: datetime, end: datetime) -> satisfaction.Rate:
    """Ratings of the tickets called in between start and end (reported_at) and the return visits of
    those days, as the monthly report counts them."""
    tickets = db.scalars(sa.select(Ticket.satisfaction).where(Ticket.reported_at >= start, Ticket.reported_at < end,
                                                              Ticket.satisfaction.in_(satisfaction.RATINGS)))
    visit_ratings = [v.satisfaction for v in in_range(db=db, start=start.date(), end=end.date())]
    return satisfaction.rate_of([*tickets, *visit_ratings])
