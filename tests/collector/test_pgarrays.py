"""Arrays packed by collector.pgarrays arrive in the real PostgreSQL as the values they came from."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector import pgarrays as A

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def conn() -> Any:
    from tests.conftest import PG_URL, pg_available

    if not pg_available():
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
    import psycopg

    with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql")) as c:
        yield c


def echo(conn: Any, value: A.PgArray, cast: str) -> Any:
    return conn.execute(f"SELECT %s::{cast}", [value]).fetchone()[0]


zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=8)), timezone(timedelta(hours=-9, minutes=-30)),
                         ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")])
times = st.builds(lambda t, tz: t.replace(tzinfo=timezone.utc).astimezone(tz),
                  st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)), zones)


@settings(max_examples=60, deadline=None)
@given(ts=st.lists(times, max_size=30), texts=st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00",
                                                                                       blacklist_categories=("Cs",)),
                                                                 max_size=30), max_size=30),
       small=st.lists(st.one_of(st.none(), st.integers(-2**15, 2**15 - 1)), max_size=20),
       big=st.lists(st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)), max_size=20),
       floats=st.lists(st.one_of(st.none(), st.floats(allow_nan=False)), max_size=20),
       ids=st.lists(st.uuids(), max_size=20))
def test_arrays_round_trip(conn: Any, ts: list[datetime], texts: list[str], small: list[Any], big: list[Any],
                           floats: list[Any], ids: list[uuid.UUID]) -> None:
    got = echo(conn, A.timestamptz(ts), "timestamptz[]")
    assert [t.astimezone(timezone.utc) for t in got] == [t.astimezone(timezone.utc) for t in ts]
    assert echo(conn, A.text(texts), "text[]") == texts
    assert echo(conn, A.int2(small), "int2[]") == small
    assert echo(conn, A.int8(big), "int8[]") == big
    assert echo(conn, A.float8(floats), "float8[]") == floats
    assert echo(conn, A.uuids(ids), "uuid[]") == ids
    assert echo(conn, A.int4([1, None, -2**31]), "int4[]") == [1, None, -2**31]


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        A.timestamptz([datetime(2026, 1, 1)])
