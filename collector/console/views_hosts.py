"""主机: the list (filters, search, pages; done by the database), and one host's latest result of every
check with its disk usage history as a chart."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from checks.model import SYSTEMS
from collector.console import charts, fleet, hostlist
from collector.console.web import ConsoleError, PageUser, render, settings_of
from collector.db import utcnow
from collector.deps import SessionDep
from collector.hosts import service as hosts
from collector.templates import service as templates
from collector.tickets.models import ACTIVE_STATUSES, Ticket

router = APIRouter(prefix="/console/hosts", include_in_schema=False)
DAY_CHOICES = (1, 7, 30, 90)
MAX_PAGE = 100000


@router.get("")
def host_list(request: Request, db: SessionDep, me: PageUser, unit: str = "", system: str = "", status: str = "",
              q: str = "", page: str = "1") -> Response:
    f = hostlist.clean(unit=unit, system=system, status=status, q=q)
    # a page number out of range (or not a number) shows the nearest page instead of an error
    n = int(page) if page.isascii() and page.isdigit() and len(page) <= 6 else 1
    rows, total = hostlist.search(db=db, f=f, page=max(1, min(n, MAX_PAGE)))
    pages = max(1, -(-total // hostlist.PAGE_SIZE))
    if n > pages:
        n = pages
        rows, total = hostlist.search(db=db, f=f, page=n)
    params = {k: v for k, v in vars(f).items() if v}

    def page_url(k: int) -> str:
        return "/console/hosts?" + urlencode({**params, "page": k})

    return render(request, "hosts.html", rows=rows, total=total, page=max(1, n), pages=pages, f=f,
                  page_url=page_url, units=hostlist.units(db=db), systems=SYSTEMS,
                  statuses=hostlist.STATUSES, nav="hosts")


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
                  days=days, day_choices=DAY_CHOICES, tickets=tickets, nav="hosts", central=central)
