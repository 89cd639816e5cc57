from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Optional

from fastapi import APIRouter, HTTPException, Query, Request

from collector.deps import SessionDep, SettingsDep, Viewer
from collector.hosts import service as hosts
from collector.hosts.schemas import HostOut
from collector.pagination import Page, decode_cursor, page
from collector.results import service
from collector.results.schemas import HostDetailOut, ResultOut, result_out, state_out
from collector.timefmt import parse_iso

router = APIRouter(prefix="/api/v1", tags=["results"])


@router.get("/results", response_model=Page[ResultOut])
def list_results(request: Request, db: SessionDep, settings: SettingsDep, user: Viewer,
                 host: Optional[str] = None, check: Optional[str] = None, since: Optional[str] = None,
                 limit: int = Query(100, ge=1, le=1000), cursor: Optional[str] = None) -> Any:
    host_id = None
    if host:
        h = hosts.get_by_name(db=db, name=host)
        if h is None:
            return {"items": [], "next": None}
        host_id = h.id
    since_dt: Optional[datetime] = None
    if since:
        try:
            since_dt = parse_iso(since)
        except ValueError as e:
            raise HTTPException(400, str(e)) from None
    before = None
    if cursor:
        c = decode_cursor(cursor)
        try:
            before = (parse_iso(c[0]), uuid.UUID(c[1]))
        except (ValueError, TypeError, IndexError):
            raise HTTPException(400, "cursor 无效") from None
    rows = service.list_results(db=db, host_id=host_id, check=check, since=since_dt, before=before,
                                limit=limit + 1)
    out = page(rows, limit, request, lambda r: [r[0].started_at.isoformat(), str(r[0].id)])
    out["items"] = [result_out(r, name, settings.timezone) for r, name in out["items"]]
    return out


@router.get("/hosts/{name}", response_model=HostDetailOut, tags=["hosts"])
def get_host(name: str, db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    """A host with the latest state of each of its checks."""
    h = hosts.get_by_name(db=db, name=name)
    if h is None:
        raise HTTPException(404, f"主机 {name} 不存在")
    checks = [state_out(s, h.name, settings.timezone) for s in service.latest_states(db=db, host_id=h.id)]
    return HostDetailOut(**dict(HostOut.of(h, settings.timezone)), checks=checks)
