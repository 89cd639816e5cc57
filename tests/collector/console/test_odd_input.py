"""Console forms with odd values: a clear 422 page, never a 500 ("²" is a digit to str.isdigit, not to
int(); 10**20 is beyond the user id column; year 9999 in the service's zone has no UTC time)."""
from __future__ import annotations

import pytest

from tests.collector.console.conftest import Console
from tests.collector.console.test_pages import new_case


@pytest.mark.parametrize("who", ["²", "٣", "99999999999999999999"])
def test_console_new_case_and_assign_with_an_odd_engineer(console: Console, who: str) -> None:
    b = console.browser()
    b.login("zhang")
    b.get("/console/tickets/new")
    r = b.post("/console/tickets/new", {"channel": "phone", "description": "电子印章系统无法盖章", "system": "seal",
                                        "customer_name": "赵会计", "customer_unit": "某县财政局", "room": "205",
                                        "severity": "warning", "engineer": who})
    assert r.status_code == 422 and "工程师不存在" in r.text
    tid = new_case(b)
    b.get(f"/console/tickets/{tid}")
    r = b.post(f"/console/tickets/{tid}/assign", {"engineer": who})
    assert r.status_code == 422 and "工程师不存在" in r.text
    r = b.get("/console/tickets", params={"engineer": who, "month": "0000-01"})
    assert r.status_code == 200


def test_console_time_without_a_utc_time_is_refused(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    b.get("/console/tickets/new")
    r = b.post("/console/tickets/new", {"channel": "phone", "description": "x", "system": "seal",
                                        "customer_name": "赵", "customer_unit": "某县财政局", "room": "1",
                                        "severity": "warning", "reported_at": "9999-12-31T23:59"})
    assert r.status_code == 422
