"""Odd but harmless parameters get a 4xx, never a 500: times without a UTC equivalent, digits that
str.isdigit accepts but int() or the database does not, ids beyond an INTEGER column."""
from __future__ import annotations

import pytest

from tests.collector.conftest import Api


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00"])
def test_a_since_without_a_utc_time_is_refused(api: Api, since: str) -> None:
    r = api.client.get("/api/v1/results", params={"since": since}, headers=api.h(api.admin_key))
    assert r.status_code == 400, r.text
    assert "out of range" in r.json()["detail"]["message"]


@pytest.mark.parametrize("path", ["/api/v1/tickets/99999999999999999999", "/api/v1/tickets/2147483648",
                                  "/api/v1/reports/99999999999999999999/download"])
def test_an_id_beyond_the_column_is_not_a_500(api: Api, path: str) -> None:
    r = api.client.get(path, headers=api.h(api.admin_key))
    assert r.status_code in (404, 422), r.text
