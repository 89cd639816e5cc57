"""Where ticket changes go after the transaction that made them commits (notifications hook in here)."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("xunjian.events")

Listener = Callable[[Any], None]


class Events:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def ticket_changes(self, changes: Any) -> None:
        for fn in self._listeners:
            try:
                fn(changes)
            except Exception:  # a listener never fails the request that caused the change
                log.exception("ticket change listener failed")
