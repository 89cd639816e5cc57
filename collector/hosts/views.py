from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, HTTPException

from collector.deps import Admin, SessionDep, SettingsDep, Viewer
from collector.hosts import service
from collector.hosts.schemas import EnrollIn, EnrollOut, HostDetailOut, HostOut, host_out
from collector.pagination import Page
from collector.results import service as results
from collector.results.schemas import state_out

router = APIRouter(prefix="/api/v1", tags=["hosts"])


@router.post("/agents", response_model=EnrollOut)
def enroll(body: EnrollIn, db: SessionDep, user: Admin) -> Any:
    """Enroll an agent (or rotate its token). The token is shown once and stored only as a hash."""
    host, token = service.enroll(db=db, name=body.host, unit=body.unit, room=body.room, labels=body.labels)
    return EnrollOut(host=host.name, token=token)


@router.get("/hosts", response_model=Page[HostOut])
def list_hosts(db: SessionDep, settings: SettingsDep, user: Viewer, unit: Optional[str] = None) -> Any:
    return Page(items=[host_out(h, settings.timezone) for h in service.list_hosts(db=db, unit=unit)])


@router.get("/hosts/{name}", response_model=HostDetailOut)
def get_host(name: str, db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    h = service.get_by_name(db=db, name=name)
    if h is None:
        raise HTTPException(404, f"主机 {name} 不存在")
    checks = [state_out(s, h.name, settings.timezone) for s in results.latest_states(db=db, host_id=h.id)]
    return HostDetailOut(**dict(host_out(h, settings.timezone)), checks=checks)
