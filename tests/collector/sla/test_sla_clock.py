from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sla_helpers import SH, sh

from collector.sla.calendar import WorkCalendar
from collector.sla.clock import (
    add_clock_time,
    add_working_time,
    clock_time_between,
    working_hours,
    working_time_between,
)

H = timedelta(hours=1)
CAL = WorkCalendar()  # shared by the property tests: building a year's prefix sums once is enough
CAL.add_schedule({"year": 2027,
                  "holidays": ["2027-01-01", {"from": "2027-02-06", "to": "2027-02-12"}, "2027-10-01"],
                  "workdays": ["2027-02-13"]}, source="test")

# 2025..2027: package years, a loaded year, and year boundaries between them.
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 30),
                        timezones=st.just(SH))
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=400))


def add(start, d, **kw):
    return add_working_time(start, d, calendar=CAL, **kw)


def between(a, b, **kw):
    return working_time_between(a, b, calendar=CAL, **kw)


def test_phone_before_national_day_2026():
    # 2026-09-30 (Wed) 17:00 + 2 working h: 1 h that day, Oct 1-7 off (package data), 1 h on Oct 8.
    assert add(sh(2026, 9, 30, 17), 2 * H) == sh(2026, 10, 8, 9)


def test_tiaoxiu_saturday_counts():
    # 2026-10-09 (Fri) 17:00 + 2 h: 2026-10-10 is a Saturday working day in the package data.
    assert add(sh(2026, 10, 9, 17), 2 * H) == sh(2026, 10, 10, 9)
    # 2026-09-24 (Thu) 17:00 + 2 h: Mid-autumn 09-25..27 off, so Monday 09-28.
    assert add(sh(2026, 9, 24, 17), 2 * H) == sh(2026, 9, 28, 9)


def test_friday_evening_to_monday():
    assert add(sh(2026, 11, 20, 17, 30), 2 * H) == sh(2026, 11, 23, 9, 30)


def test_lunch_break_and_email_same_day():
    assert add(sh(2026, 11, 25, 11), 4 * H) == sh(2026, 11, 25, 16)
    assert add(sh(2026, 11, 25, 11, 30), 1 * H) == sh(2026, 11, 25, 13, 30)
    assert add(sh(2026, 11, 25, 12, 20), 1 * H) == sh(2026, 11, 25, 14)  # reported during lunch


def test_due_exactly_at_period_end_is_not_pushed():
    assert add(sh(2026, 11, 25, 10), 2 * H) == sh(2026, 11, 25, 12)
    assert add(sh(2026, 11, 25, 16), 2 * H) == sh(2026, 11, 25, 18)


def test_zero_duration_and_negative():
    t = sh(2026, 11, 28, 22)  # Saturday night
    assert add(t, timedelta(0)) == t
    with pytest.raises(ValueError, match="negative"):
        add(t, -H)


def test_year_boundary():
    # 2026-12-31 (Thu) 17:00 + 2 h: 2027-01-01 is off (loaded file), weekend, so Monday 2027-01-04.
    assert add(sh(2026, 12, 31, 17), 2 * H) == sh(2027, 1, 4, 9)
    assert between(sh(2026, 12, 31, 17), sh(2027, 1, 4, 9)) == 2 * H


def test_uncovered_year_falls_back(caplog):
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING):
        # 2028-01-01 is a Saturday: Mon-Fri fallback makes Monday 2028-01-03 the next working day.
        assert add_working_time(sh(2027, 12, 31, 17), 2 * H, calendar=cal) == sh(2028, 1, 3, 9)
    assert sum("2028" in r.getMessage() for r in caplog.records) == 1


def test_other_zones_in_shanghai_out():
    start = datetime(2026, 11, 25, 3, tzinfo=timezone.utc)  # 11:00 Shanghai
    due = add(start, 4 * H)
    assert due == sh(2026, 11, 25, 16) and due.tzinfo == SH
    ny = start.astimezone(ZoneInfo("America/New_York"))
    assert add(ny, 4 * H) == due
    with pytest.raises(ValueError, match="naive"):
        add(datetime(2026, 11, 25, 11), H)


def test_between_basics():
    assert between(sh(2026, 11, 25, 11), sh(2026, 11, 25, 16)) == 4 * H
    assert between(sh(2026, 11, 25, 16), sh(2026, 11, 25, 11)) == -4 * H
    assert between(sh(2026, 11, 28, 9), sh(2026, 11, 29, 17)) == timedelta(0)  # weekend
    # November 2026: 21 working days x 9 h
    assert between(sh(2026, 11, 1), sh(2026, 12, 1)) == 21 * 9 * H
    assert working_hours(between(sh(2026, 11, 1), sh(2026, 12, 1))) == 189.0


def test_pause_pushes_due_and_is_excluded():
    start = sh(2026, 11, 25, 9)
    pauses = [(sh(2026, 11, 25, 9, 30), sh(2026, 11, 25, 10, 30))]
    assert add(start, 2 * H, pauses=pauses) == sh(2026, 11, 25, 12)
    assert between(start, sh(2026, 11, 25, 12), pauses=pauses) == 2 * H
    # a pause over lunch costs no working time
    lunch = [(sh(2026, 11, 25, 12), sh(2026, 11, 25, 13))]
    assert add(sh(2026, 11, 25, 11), 2 * H, pauses=lunch) == sh(2026, 11, 25, 14)


def test_overlapping_unsorted_and_outside_pauses():
    start = sh(2026, 11, 25, 9)
    pauses = [(sh(2026, 11, 25, 10), sh(2026, 11, 25, 11)),
              (sh(2026, 11, 25, 9, 30), sh(2026, 11, 25, 10, 30)),
              (sh(2026, 11, 24, 9), sh(2026, 11, 24, 10))]
    assert add(start, 2 * H, pauses=pauses) == sh(2026, 11, 25, 13, 30)
    with pytest.raises(ValueError, match="before it starts"):
        add(start, H, pauses=[(sh(2026, 11, 25, 10), sh(2026, 11, 25, 9))])


def test_open_pause():
    start = sh(2026, 11, 25, 9)
    pauses = [(sh(2026, 11, 25, 10), None)]
    # provisional due: the customer answers at `now`, the remaining hour runs from then
    assert add(start, 2 * H, pauses=pauses, now=sh(2026, 11, 25, 14)) == sh(2026, 11, 25, 15)
    assert add(start, 2 * H, pauses=pauses, now=sh(2026, 11, 25, 9, 30)) == sh(2026, 11, 25, 11)
    # without now: the pause runs to the end of the span / to the real current time
    assert between(start, sh(2026, 11, 25, 17), pauses=pauses) == H
    assert add(start, 2 * H, pauses=pauses) > datetime.now(timezone.utc)


def test_clock_time_with_pauses():
    start = sh(2026, 11, 28, 22)  # Saturday 22:00
    assert add_clock_time(start, 4 * H, calendar=CAL) == sh(2026, 11, 29, 2)
    pauses = [(sh(2026, 11, 28, 23), sh(2026, 11, 29, 0))]
    assert add_clock_time(start, 4 * H, pauses=pauses, calendar=CAL) == sh(2026, 11, 29, 3)
    assert clock_time_between(start, sh(2026, 11, 29, 3), pauses=pauses, calendar=CAL) == 4 * H


def test_calendar_with_other_hours():
    cal = WorkCalendar(periods=["09:00-17:00"])
    assert add_working_time(sh(2026, 11, 25, 16), 2 * H, calendar=cal) == sh(2026, 11, 26, 10)


# -- properties ------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(instants, durations)
def test_add_then_between_roundtrip(t, d):
    due = add(t, d)
    assert due >= t
    assert between(t, due) == d
    if d > timedelta(0):
        assert CAL.is_working_time(due - timedelta(microseconds=1))


@settings(max_examples=200, deadline=None)
@given(instants, durations, durations)
def test_monotonic_in_duration(t, d1, d2):
    lo, hi = sorted((d1, d2))
    assert add(t, lo) <= add(t, hi)


@settings(max_examples=200, deadline=None)
@given(instants, instants, durations)
def test_monotonic_in_start(t1, t2, d):
    a, b = sorted((t1, t2))
    assert add(a, d) <= add(b, d)


@settings(max_examples=200, deadline=None)
@given(instants, instants, instants)
def test_between_additive_and_bounded(a, b, c):
    assert between(a, b) + between(b, c) == between(a, c)
    lo, hi = sorted((a, b))
    assert timedelta(0) <= between(lo, hi) <= hi - lo


pause_lengths = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3))
pause_lists = st.lists(st.tuples(instants, pause_lengths), max_size=4).map(
    lambda ps: [(s, s + length) for s, length in ps])


@settings(max_examples=300, deadline=None)
@given(instants, durations, pause_lists)
def test_roundtrip_with_pauses(t, d, pauses):
    due = add(t, d, pauses=pauses)
    assert between(t, due, pauses=pauses) == d
    assert due >= add(t, d)  # pauses only ever push


@settings(max_examples=100, deadline=None)
@given(instants, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)), pause_lists)
def test_clock_roundtrip_with_pauses(t, d, pauses):
    due = add_clock_time(t, d, pauses=pauses, calendar=CAL)
    assert clock_time_between(t, due, pauses=pauses, calendar=CAL) == d


def test_brute_force_against_minutes():
    # An independent, slow definition: count working minutes one by one over a fortnight of 2026
    # that contains the Mid-autumn/National Day holidays and the 10-10 调休 Saturday.
    start = datetime(2026, 9, 23, 0, 0)
    minutes = 0
    expected: dict[datetime, timedelta] = {}
    t = start
    while t < datetime(2026, 10, 13):
        if t.minute == 0:
            expected[t] = timedelta(minutes=minutes)
        local_ok = CAL.is_workday(date(t.year, t.month, t.day)) and (8 <= t.hour < 12 or 13 <= t.hour < 18)
        minutes += local_ok
        t += timedelta(minutes=1)
    s = start.replace(tzinfo=SH)
    for naive, d in expected.items():
        assert between(s, naive.replace(tzinfo=SH)) == d, naive
