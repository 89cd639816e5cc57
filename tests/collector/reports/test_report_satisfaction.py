"""The monthly report's satisfaction figure says how many ratings it rests on."""
from __future__ import annotations

from typing import Any

from collector.reports import builder
from collector.runtime import runtime
from tests.collector.reports.month_data import MONTH, build_month, cst


def test_satisfaction_figure_comes_with_its_number_of_ratings(api: Any) -> None:
    build_month(api)
    rt = runtime(api.app.state.settings)
    with api.app.state.read_sessionmaker() as db:
        d = builder.build(db=db, month=MONTH, unit="", calendar=rt.calendar, now=cst(2026, 10, 8, 9))
    assert d.figures["satisfaction_pct"] == 85.71
    assert d.figures["satisfaction_rated"] == 7  # 4 rated tickets + 3 visits; the automatic ticket is unrated
    summary = dict(tuple(row) for row in d.tables[0].rows)
    assert summary["满意率依据(评价数, 未评价不计)"] == 7
