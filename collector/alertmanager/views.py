from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException

from collector.alertmanager import service
from collector.alertmanager.schemas import ReceivedOut
from collector.db import utcnow
from collector.deps import Engineer, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["alertmanager"])


@router.post("/alertmanager", response_model=ReceivedOut)
def alertmanager_webhook(settings: SettingsDep, user: Engineer, db: SessionDep,
                         payload: dict[str, Any] = Body(...)) -> Any:
    """Alertmanager's webhook (version 4). Configure `http_config.authorization.credentials` with an API key.

    A plain (not async) route: the database work runs in the thread pool, never on the event loop."""
    if not isinstance(payload.get("alerts", []), list):
        raise HTTPException(422, "expected Alertmanager's webhook payload with an 'alerts' list")
    counts = service.receive(db=db, payload=payload, now=utcnow(), settings=settings)
    db.commit()
    return counts
