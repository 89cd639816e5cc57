"""总览: hosts by customer unit and system, agents' last contact, disk usage, open tickets by SLA."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from collector.console import fleet, queries
from collector.console.web import PageUser, render, settings_of
from collector.db import utcnow
from collector.deps import SessionDep
from collector.runtime import runtime
from collector.tickets import satisfaction
from collector.timefmt import zone
from collector.visits import service as visits

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/")
def dashboard(request: Request, db: SessionDep, me: PageUser) -> Response:
    now = utcnow()
    groups = fleet.host_rows(db=db)
    tickets = fleet.open_tickets(db=db, rt=runtime(settings_of(request), db), now=now)
    hosts = [h for g in groups for h in g.hosts]
    totals = {
        "hosts": len(hosts), "offline": sum(1 for h in hosts if not h.host.online),
        "bad": sum(1 for h in hosts if (h.overall or 0) != 0),
        "open": len(tickets), "breached": sum(1 for t in tickets if t.sla == "breached"),
        "unanswered": sum(1 for t in tickets if t.ticket.status == "open"),
    }
    return render(request, "dashboard.html", groups=groups, tickets=tickets, totals=totals,
                  satisfaction=this_month_rate(db, settings_of(request).timezone, now), systems=fleet.SYSTEMS,
                  nav="dashboard")


def this_month_rate(db: Session, tz: str, now: datetime) -> satisfaction.Rate:
    """The rate of the month now falls in (tickets by call time, and return visits), as the monthly report."""
    start, end = queries.month_range(now.astimezone(zone(tz)).strftime("%Y-%m"), tz) or (now, now)
    return visits.month_rate(db=db, start=start, end=end)
