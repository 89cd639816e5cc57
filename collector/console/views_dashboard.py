"""总览: hosts by customer unit and system, agents' last contact, disk usage, open tickets by SLA."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from collector.console import fleet
from collector.console.web import PageUser, render, settings_of
from collector.db import utcnow
from collector.deps import SessionDep
from collector.runtime import runtime

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
                  systems=fleet.SYSTEMS, nav="dashboard")
