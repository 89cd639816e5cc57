from __future__ import annotations

import pytest

from collector.sla.calendar import WorkCalendar


@pytest.fixture
def cal() -> WorkCalendar:
    """A fresh calendar per test: package data, no loaded schedules, no warnings issued yet."""
    return WorkCalendar()
