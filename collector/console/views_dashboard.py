"""总览: hosts by customer unit and system, agents' last contact, disk usage, open tickets by SLA."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from checks.model import SYSTEMS
from collector.console import channels, fleet, overview, queries
from collector.console.web import PageUser, render, settings_of
from collector.db import utcnow
from collector.deps import SessionDep
from collector.runtime import runtime
from collector.tickets import satisfaction
from collector.timefmt import zone
from collector.visits import service as visits

router = APIRouter(prefix="/console", include_in_schema=False)
MAX_ACTIVE = 5000  # active tickets read for the counts and the SLA order
TICKETS_SHOWN = 100  # of them listed, most urgent first; the ticket list has the rest


@router.get("/")
def dashboard(request: Request, db: SessionDep, me: PageUser) -> Response:
    now = utcnow()
    lines = overview.unit_lines(db=db)
    n_hosts = sum(u.hosts for u in lines)
    # every host while the fleet is small; beyond that the units' lines and the hosts needing attention
    groups = fleet.host_rows(db=db) if n_hosts <= overview.FULL_LIST else None
    attention = overview.attention(db=db) if groups is None else []
    tickets = fleet.open_tickets(db=db, rt=runtime(settings_of(request), db), now=now, limit=MAX_ACTIVE)
    totals = {
        "hosts": n_hosts, "offline": sum(u.offline for u in lines), "bad": sum(u.bad for u in lines),
        "open": len(tickets), "breached": sum(1 for t in tickets if t.sla == "breached"),
        "unanswered": sum(1 for t in tickets if t.ticket.status == "open"),
    }
    return render(request, "dashboard.html", groups=groups, lines=lines, attention=attention,
                  tickets=tickets[:TICKETS_SHOWN], totals=totals,
                  satisfaction=this_month_rate(db, settings_of(request).timezone, now), systems=SYSTEMS,
                  channel_banner=channels.banner(db=db, rt=runtime(settings_of(request))),
                  nav="dashboard")


def this_month_rate(db: Session, tz: str, now: datetime) -> satisfaction.Rate:
    """The rate of the month now falls in (tickets by call time, and return visits), as the monthly report."""
    start, end = queries.month_range(now.astimezone(zone(tz)).strftime("%Y-%m"), tz) or (now, now)
    return visits.month_rate(db=db, start=start, end=end)
