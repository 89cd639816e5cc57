from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter

from collector.deps import Admin, SessionDep, SettingsDep, Viewer
from collector.hosts import service
from collector.hosts.schemas import EnrollIn, EnrollOut, HostOut
from collector.pagination import Page

router = APIRouter(prefix="/api/v1", tags=["hosts"])


@router.post("/agents", response_model=EnrollOut)
def enroll(body: EnrollIn, db: SessionDep, user: Admin) -> Any:
    """Enroll an agent (or rotate its token). The token is shown once and stored only as a hash."""
    host, token = service.enroll(db=db, name=body.host, unit=body.unit, room=body.room, labels=body.labels)
    return EnrollOut(host=host.name, token=token)


@router.get("/hosts", response_model=Page[HostOut])
def list_hosts(db: SessionDep, settings: SettingsDep, user: Viewer, unit: Optional[str] = None) -> Any:
    return Page(items=[HostOut.of(h, settings.timezone) for h in service.list_hosts(db=db, unit=unit)])
