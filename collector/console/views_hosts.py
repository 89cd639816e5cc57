"""主机: the latest result of every check, and disk usage history as a chart."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from collector.console import charts, fleet
from collector.console.web import ConsoleError, PageUser, render, settings_of
from collector.db import utcnow
from collector.deps import SessionDep
from collector.hosts import service as hosts
from collector.templates import service as templates
from collector.tickets.models import ACTIVE_STATUSES, Ticket

router = APIRouter(prefix="/console/hosts", include_in_schema=False)
DAY_CHOICES = (1, 7, 30, 90)


@router.get("/{name}")
def host_page(request: Request, name: str, db: SessionDep, me: PageUser, days: int = 7) -> Response:
    h = hosts.get_by_name(db=db, name=name)
    if h is None:
        raise ConsoleError(404, f"主机 {name} 不存在")
    days = days if days in DAY_CHOICES else 7
    now = utcnow()
    start = now - timedelta(days=days)
    tz = settings_of(request).timezone
    history = fleet.disk_history(db=db, host_id=h.id, since=start, now=now, tz=tz)
    chart = charts.disk_chart(history, start, now, tz)
    tickets = list(db.scalars(sa.select(Ticket).where(Ticket.host == h.name, Ticket.status.in_(ACTIVE_STATUSES))
                              .order_by(Ticket.id.desc())))
    central = templates.effective(templates.load_snapshot(db), h)  # what the templates give it now
    return render(request, "host.html", h=h, states=fleet.host_states(db=db, host_id=h.id), chart=chart,
                  days=days, day_choices=DAY_CHOICES, tickets=tickets, nav="dashboard", central=central)
