from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from collector.alertmanager import service
from collector.db import utcnow
from collector.deps import Engineer, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["alertmanager"])


@router.post("/alertmanager")
async def alertmanager_webhook(request: Request, settings: SettingsDep, user: Engineer, db: SessionDep) -> Any:
    """Alertmanager's webhook (version 4). Configure `http_config.authorization.credentials` with an API key."""
    try:
        payload = await request.json()
    except ValueError:
        raise HTTPException(400, "malformed JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts", []), list):
        raise HTTPException(422, "expected Alertmanager's webhook payload with an 'alerts' list")
    counts = service.receive(db=db, payload=payload, now=utcnow(), settings=settings)
    db.commit()
    return counts
