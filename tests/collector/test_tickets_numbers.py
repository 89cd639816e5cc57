"""Ticket numbers on the real PostgreSQL: two collector processes racing to open the same fault's ticket
leave one ticket and no gap in the month's numbers."""
from __future__ import annotations

import threading
from typing import Any

import pytest

from collector.db import utcnow
from collector.tickets import service as tickets
from collector.tickets.models import Ticket

pytestmark = pytest.mark.postgres


def fields(check: str) -> dict[str, Any]:
    return {"source": "agent", "channel": "auto", "severity": "critical", "system": "os", "host": "web01",
            "check": check, "title": f"web01: {check}", "description": "测试"}


def test_a_lost_race_to_open_a_ticket_leaves_no_gap_in_the_numbers(app: Any) -> None:
    opts = {"at": utcnow(), "number_prefix": "FW", "tz": "Asia/Shanghai"}
    # Sessions closed on any failure: an open transaction would hold the schema's drop at teardown.
    with app.state.sessionmaker() as first, app.state.sessionmaker() as second:
        won, _ = tickets.open_for_fault(db=first, fault_key="web01/disk", fields=fields("disk"), **opts)
        # The second process looked before the first committed (as ingest does for a whole batch): it draws a
        # number, waits on the first's counter row, then finds the fault's ticket already active.
        result: list[tuple[Ticket, bool]] = []
        racer = threading.Thread(target=lambda: result.append(tickets.open_for_fault(
            db=second, fault_key="web01/disk", fields=fields("disk"), known_inactive=True, **opts)))
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # held by the first transaction's counter row
        first.commit()
        racer.join(10)
        lost, created = result[0]
        assert not created and lost.id == won.id
        second.commit()
    with app.state.sessionmaker() as db:
        later, _ = tickets.open_for_fault(db=db, fault_key="web01/cpu", fields=fields("cpu"), **opts)
        db.commit()
        assert int(later.number[-4:]) == int(won.number[-4:]) + 1, (won.number, later.number)
