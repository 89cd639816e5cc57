from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from collector.deps import Admin, SessionDep, SettingsDep, Viewer
from collector.hosts import service
from collector.results import service as results
from collector.results.schemas import state_out
from collector.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["hosts"])


class EnrollIn(BaseModel):
    host: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    labels: dict[str, str] = {}
    unit: str = ""
    room: str = ""


@router.post("/agents")
def enroll(body: EnrollIn, db: SessionDep, user: Admin) -> Any:
    """Enroll an agent (or rotate its token). The token is shown once and stored only as a hash."""
    host, token = service.enroll(db=db, name=body.host, unit=body.unit, room=body.room, labels=body.labels)
    return {"host": host.name, "token": token}


def host_out(h: Any, tz: str) -> dict[str, Any]:
    return {"name": h.name, "unit": h.unit, "room": h.room, "labels": h.labels, "online": h.online,
            "last_seen_at": iso(h.last_seen_at, tz), "agent_version": h.agent_version,
            "enrolled_at": iso(h.enrolled_at, tz), "dropped_total": h.dropped_total,
            "rejected_total": h.rejected_total, "last_seq": h.last_seq,
            # central configuration (templates): the version its agent runs, the last one it refused
            "config_version": h.config_version, "config_refused_version": h.config_refused_version,
            "config_refused_error": h.config_refused_error}


@router.get("/hosts")
def list_hosts(db: SessionDep, settings: SettingsDep, user: Viewer, unit: Optional[str] = None) -> Any:
    return {"items": [host_out(h, settings.timezone) for h in service.list_hosts(db=db, unit=unit)], "next": None}


@router.get("/hosts/{name}")
def get_host(name: str, db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    h = service.get_by_name(db=db, name=name)
    if h is None:
        raise HTTPException(404, f"主机 {name} 不存在")
    out = host_out(h, settings.timezone)
    out["checks"] = [state_out(s, h.name, settings.timezone) for s in results.latest_states(db=db, host_id=h.id)]
    return out
