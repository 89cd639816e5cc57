from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from collector.sla.calendar import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()
