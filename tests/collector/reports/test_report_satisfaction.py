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


def test_a_visit_about_last_months_ticket_is_listed_with_its_number(api: Any) -> None:
    """A return visit in October about a September call (as the console's survey form allows): the report's
    用户回访统计表 names the ticket (its number was looked up with a dict() of a Result, which raised)."""
    ids = build_month(api)
    r = api.client.post("/api/v1/visits", headers=api.h(api.engineer_key), json={
        "date": "2026-10-12", "unit": "某市财政局", "customer_name": "刘科长", "method": "电话",
        "satisfaction": "满意", "ticket_id": ids["t1"]})
    assert r.status_code == 201, r.text
    number = api.client.get(f"/api/v1/tickets/{ids['t1']}", headers=api.h(api.engineer_key)).json()["number"]
    rt = runtime(api.app.state.settings)
    with api.app.state.read_sessionmaker() as db:
        d = builder.build(db=db, month="2026-10", unit="", calendar=rt.calendar, now=cst(2026, 11, 3, 9))
    visits = next(t for t in d.tables if t.key == "visits")
    assert [row[7] for row in visits.rows if row[0] == "2026-10-12"] == [number]
