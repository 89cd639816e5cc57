"""Response clocks: add and measure working time (and clock time) with paused intervals.

All functions take aware datetimes in any zone, compute in the calendar's zone (Asia/Shanghai) and
return aware datetimes in that zone. Durations are exact to the microsecond, so
`working_time_between(t, add_working_time(t, d)) == d` holds exactly.

Pauses (a ticket waiting for the customer) are `(start, end)` pairs; `end=None` means the pause is
still open. They may overlap, be unsorted or reach outside the measured span; they are merged and
clipped. An open pause ends at `now` when `now` is given; otherwise it runs to the end of the
measured span (`*_between`) or, for a due time, to the current time (the due time "if the customer
answered now", which moves on while the ticket stays pending).

Cost: a due time is a couple of bisects over per-year prefix sums (no walking minutes or days);
a measurement is two lookups, plus one per pause.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone

from collector.sla.calendar import US, WorkCalendar, default_calendar

Pause = tuple[datetime, "datetime | None"]
_ONE_US = timedelta(microseconds=1)
_MAX_YEARS = 200  # a due time further away than this is a units mistake, not an SLA


def _us(d: timedelta) -> int:
    return d // _ONE_US


def _check_duration(duration: timedelta) -> int:
    if not isinstance(duration, timedelta):
        raise TypeError(f"duration must be a timedelta, got {type(duration).__name__}")
    us = _us(duration)
    if us < 0:
        raise ValueError(f"negative duration {duration}")
    return us


# -- working time without pauses, on naive local times ------------------------------------------

def _working_between_local(cal: WorkCalendar, a: datetime, b: datetime) -> int:
    """Working microseconds in [a, b] for naive local a <= b."""
    ya, oa = cal.offset_in_year(a)
    yb, ob = cal.offset_in_year(b)
    if ya == yb:
        return ob - oa
    total = cal.year_total_us(ya) - oa + ob
    for y in range(ya + 1, yb):
        total += cal.year_total_us(y)
    return total


def _add_working_local(cal: WorkCalendar, start: datetime, us: int) -> datetime:
    if us == 0:
        return start
    year, off = cal.offset_in_year(start)
    off += us
    for _ in range(_MAX_YEARS):
        total = cal.year_total_us(year)
        if off <= total:
            return cal.local_at_offset(year, off)
        off -= total
        year += 1
    raise ValueError(f"adding {timedelta(microseconds=us)} of working time to {start} goes beyond "
                     f"{_MAX_YEARS} years")


def _add_clock_local(_cal: WorkCalendar, start: datetime, us: int) -> datetime:
    return start + timedelta(microseconds=us)


def _clock_between_local(_cal: WorkCalendar, a: datetime, b: datetime) -> int:
    return _us(b - a)


# -- pauses --------------------------------------------------------------------------------------

def _merge_pauses(cal: WorkCalendar, pauses: Iterable[Pause], open_end: datetime | None
                  ) -> list[tuple[datetime, datetime | None]]:
    """Sorted, merged naive-local pauses; `None` end only when the pause is open and `open_end` is None."""
    spans: list[tuple[datetime, datetime | None]] = []
    for p in pauses:
        try:
            s, e = p
        except (TypeError, ValueError):
            raise ValueError(f"a pause is a (start, end or None) pair, got {p!r}") from None
        ls = cal.to_local(s)
        le = cal.to_local(e) if e is not None else open_end
        if le is not None and le < ls:
            if e is not None:
                raise ValueError(f"pause ends ({e.isoformat()}) before it starts ({s.isoformat()})")
            continue  # open pause starting after `now`: not begun yet
        spans.append((ls, le))
    spans.sort(key=lambda x: x[0])
    merged: list[tuple[datetime, datetime | None]] = []
    for s, e in spans:
        if merged:
            ms, me = merged[-1]
            if me is None:
                break  # an open-ended pause swallows everything after it
            if s <= me:
                merged[-1] = (ms, None if e is None else max(me, e))
                continue
        merged.append((s, e))
    return merged


Adder = Callable[[WorkCalendar, datetime, int], datetime]
Measurer = Callable[[WorkCalendar, datetime, datetime], int]


def _add_with_pauses(cal: WorkCalendar, start: datetime, duration: timedelta,
                     pauses: Sequence[Pause], now: datetime | None, add: Adder, measure: Measurer
                     ) -> datetime:
    left = _check_duration(duration)
    pos = cal.to_local(start)
    if pauses and now is None and any(e is None for _, e in pauses):
        now = datetime.now(timezone.utc)
    for ps, pe in _merge_pauses(cal, pauses, cal.to_local(now) if now is not None else None):
        assert pe is not None  # open pauses were closed at `now` above
        if pe <= pos:
            continue
        if ps > pos:
            seg = measure(cal, pos, ps)
            if left <= seg:
                break
            left -= seg
        pos = pe
    return cal.from_local(add(cal, pos, left))


def _between_with_pauses(cal: WorkCalendar, a: datetime, b: datetime, pauses: Sequence[Pause],
                         now: datetime | None, measure: Measurer) -> timedelta:
    la, lb = cal.to_local(a), cal.to_local(b)
    sign = 1
    if lb < la:
        la, lb, sign = lb, la, -1
    total = measure(cal, la, lb)
    for ps, pe in _merge_pauses(cal, pauses, cal.to_local(now) if now is not None else None):
        s = max(ps, la)
        e = lb if pe is None else min(pe, lb)
        if s < e:
            total -= measure(cal, s, e)
    return timedelta(microseconds=sign * total)


# -- public API ----------------------------------------------------------------------------------

def add_working_time(start: datetime, duration: timedelta, *, pauses: Sequence[Pause] = (),
                     now: datetime | None = None, calendar: WorkCalendar | None = None) -> datetime:
    """The instant at which `duration` of working time has elapsed since `start` (the due time).

    Paused working time does not count, so pauses push the due time. Zero duration returns `start`.
    A due time that completes exactly at a period's end is that end (e.g. 12:00, not 13:00).
    """
    cal = calendar or default_calendar()
    return _add_with_pauses(cal, start, duration, pauses, now, _add_working_local, _working_between_local)


def working_time_between(a: datetime, b: datetime, *, pauses: Sequence[Pause] = (),
                         now: datetime | None = None, calendar: WorkCalendar | None = None) -> timedelta:
    """Working time in [a, b] minus paused working time; negative when b is before a."""
    cal = calendar or default_calendar()
    return _between_with_pauses(cal, a, b, pauses, now, _working_between_local)


def add_clock_time(start: datetime, duration: timedelta, *, pauses: Sequence[Pause] = (),
                   now: datetime | None = None, calendar: WorkCalendar | None = None) -> datetime:
    """Like `add_working_time` but every hour counts (urgent cases outside working hours)."""
    cal = calendar or default_calendar()
    return _add_with_pauses(cal, start, duration, pauses, now, _add_clock_local, _clock_between_local)


def clock_time_between(a: datetime, b: datetime, *, pauses: Sequence[Pause] = (),
                       now: datetime | None = None, calendar: WorkCalendar | None = None) -> timedelta:
    """Elapsed time in [a, b] minus paused time; negative when b is before a."""
    cal = calendar or default_calendar()
    return _between_with_pauses(cal, a, b, pauses, now, _clock_between_local)


def working_hours(d: timedelta) -> float:
    """A duration as (working) hours, for reports."""
    return _us(d) / (3600 * US)


def add_window_time(start: datetime, duration: timedelta, *, window_end: datetime,
                    pauses: Sequence[Pause] = (), now: datetime | None = None,
                    calendar: WorkCalendar | None = None) -> datetime:
    """Due time of a case reported inside a 7×24 window: every hour counts until `window_end`, working
    hours after it (the window's promise ends with the window). Pauses count nowhere."""
    cal = calendar or default_calendar()
    if window_end <= start:
        return add_working_time(start, duration, pauses=pauses, now=now, calendar=cal)
    inside = clock_time_between(start, window_end, pauses=pauses, now=now, calendar=cal)
    if duration <= inside:
        return add_clock_time(start, duration, pauses=pauses, now=now, calendar=cal)
    return add_working_time(window_end, duration - inside, pauses=pauses, now=now, calendar=cal)
