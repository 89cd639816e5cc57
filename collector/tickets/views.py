from __future__ import annotations

from typing import Any, Literal, Optional

from fastapi import APIRouter, HTTPException, Query, Request

from collector.deps import SessionDep, SettingsDep, Viewer
from collector.pagination import decode_cursor, page
from collector.tickets import service
from collector.tickets.schemas import event_out, ticket_out

router = APIRouter(prefix="/api/v1", tags=["tickets"])


@router.get("/tickets")
def list_tickets(request: Request, db: SessionDep, settings: SettingsDep, user: Viewer,
                 status: Optional[Literal["open", "acknowledged", "pending", "resolved", "closed"]] = None,
                 host: Optional[str] = None, unit: Optional[str] = None, system: Optional[str] = None,
                 limit: int = Query(100, ge=1, le=1000), cursor: Optional[str] = None) -> Any:
    before = None
    if cursor:
        before = decode_cursor(cursor)
        if not isinstance(before, int):
            raise HTTPException(400, "cursor 无效")
    rows = service.list_tickets(db=db, status=status, host=host, unit=unit, system=system, before_id=before,
                                limit=limit + 1)
    out = page(rows, limit, request, lambda t: t.id)
    out["items"] = [ticket_out(t, settings.timezone) for t in out["items"]]
    return out


@router.get("/tickets/{ticket_id}")
def get_ticket(ticket_id: int, db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    t = service.get(db=db, ticket_id=ticket_id)
    if t is None:
        raise HTTPException(404, f"服务单 {ticket_id} 不存在")
    out = ticket_out(t, settings.timezone)
    out["timeline"] = [event_out(e, settings.timezone) for e in service.timeline(db=db, ticket_id=t.id)]
    return out
