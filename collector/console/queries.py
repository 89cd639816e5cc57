"""Ticket searches for the console list (filters and offset pages the API does not need)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.hosts.models import Host
from collector.tickets.models import Ticket
from collector.timefmt import zone
from collector.users.models import User

PAGE_SIZE = 20
MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass
class Filters:
    status: str = ""
    unit: str = ""
    system: str = ""
    engineer: str = ""  # user id, or "none" for unassigned
    month: str = ""  # YYYY-MM in the service's zone, of the call time (reported_at), as the monthly report
    q: str = ""  # number, host or words of the title


def month_range(month: str, tz: str) -> Optional[tuple[datetime, datetime]]:
    m = MONTH.match(month)
    if not m or not 1 <= int(m.group(2)) <= 12 or not 1900 <= int(m.group(1)) <= 9000:
        return None
    year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=zone(tz))
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone(tz))
    return start, end


def search(*, db: Session, f: Filters, tz: str, page: int) -> tuple[list[Ticket], int]:
    q = sa.select(Ticket)
    if f.status == "active":
        q = q.where(Ticket.status.in_(("open", "acknowledged", "pending")))
    elif f.status:
        q = q.where(Ticket.status == f.status)
    if f.unit:
        q = q.where(Ticket.customer_unit == f.unit)
    if f.system:
        q = q.where(Ticket.system == f.system)
    if f.engineer == "none":
        q = q.where(Ticket.assignee_id.is_(None))
    elif f.engineer.isascii() and f.engineer.isdigit() and len(f.engineer) <= 10:
        q = q.where(Ticket.assignee_id == min(int(f.engineer), 2**31 - 1))
    span = month_range(f.month, tz) if f.month else None
    if span:
        # the month of a ticket is its call time (热线时间), as in the monthly report and the forms
        q = q.where(Ticket.reported_at >= span[0], Ticket.reported_at < span[1])
    if f.q:
        like = f"%{f.q}%"
        q = q.where(sa.or_(Ticket.number.ilike(like), Ticket.host.ilike(like), Ticket.title.ilike(like)))
    total = db.scalar(sa.select(sa.func.count()).select_from(q.subquery())) or 0
    rows = db.scalars(q.order_by(Ticket.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return list(rows), total


def units(*, db: Session) -> list[str]:
    names = set(db.scalars(sa.select(Host.unit).distinct())) | set(db.scalars(sa.select(Ticket.customer_unit)
                                                                              .distinct()))
    return sorted(n for n in names if n)


def engineers(*, db: Session) -> list[User]:
    return list(db.scalars(sa.select(User).where(User.active.is_(True), User.role.in_(("engineer", "admin")))
                           .order_by(User.name)))


def host_names(*, db: Session) -> list[str]:
    return list(db.scalars(sa.select(Host.name).order_by(Host.name)))
