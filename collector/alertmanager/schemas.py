"""API shapes of the Alertmanager webhook."""
from __future__ import annotations

from pydantic import BaseModel


class ReceivedOut(BaseModel):
    """How many alerts of the payload opened, updated or resolved a ticket, or were ignored or suppressed."""

    opened: int
    updated: int
    resolved: int
    ignored: int
    suppressed: int
