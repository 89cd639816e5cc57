"""The support contract's working-time calendar.

Working time is Mon–Fri in the configured daily periods (default 08:00–12:00 and 13:00–18:00,
Asia/Shanghai), minus Chinese public holidays, plus the weekend days that become working days
(调休). Where the answer for a date comes from, first match wins:

1. a year imported into the database (`xunjian-collector calendar import`, the console's 工作日历 page),
   handed to the calendar with `set_imported`, date by date (a notice's days of the December before
   its year included);
2. an operator-loaded schedule file for that year (`load_schedule`), date by date;
3. the `chinese_calendar` package (its data ends with 2026);
4. Mon–Fri, with one loud WARNING per year: the collector must never crash on a missing year. Due
   times computed on it are marked as such (`on_fallback`).

Besides the questions an engineer asks (`is_workday`, `is_working_time`, ...), the calendar keeps
per-year prefix sums of working microseconds so that `collector.sla.clock` can add and measure
working time with a bisect instead of walking minute by minute or day by day.

Times are handled as local wall-clock time in the calendar's zone; this is exact for zones without
DST transitions during working hours (Asia/Shanghai has none since 1991).
"""
from __future__ import annotations

import bisect
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from checks.options import ConfigError

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_PERIODS: tuple[tuple[time, time], ...] = ((time(8), time(12)), (time(13), time(18)))
US = 1_000_000  # microseconds per second; all internal arithmetic is in integer microseconds
MAX_RANGE_DAYS = 31  # a holiday range longer than this is a typo, not a holiday
_SCHEDULE_KEYS = ("year", "holidays", "workdays", "source", "notes", "example")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class ScheduleError(ConfigError):
    """A holiday schedule (file or mapping) the calendar refuses; the message names file and entry."""


@dataclass(frozen=True)
class Schedule:
    """One year's official holiday arrangement (国务院办公厅 notice), as loaded."""

    year: int
    holidays: Mapping[date, str]  # date -> holiday name ("" when not given)
    workdays: Mapping[date, str]  # 调休 weekend working days -> name
    source: str = ""


@dataclass
class _Year:
    workday: list[bool]
    cum: list[int]  # cum[i] = working microseconds in the year before day index i (len = days + 1)
    first_ordinal: int = field(default=0)

    @property
    def total(self) -> int:
        return self.cum[-1]


def _package_years() -> tuple[int, int] | None:
    try:
        from chinese_calendar.constants import holidays
    except ImportError:  # the collector extra is not installed: schedules and fallback only
        return None
    years = [d.year for d in holidays]
    return min(years), max(years)


def parse_hours(spec: Sequence[str] | Sequence[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    """Daily working periods from ["08:00-12:00", "13:00-18:00"] (or (time, time) pairs), validated."""
    periods: list[tuple[time, time]] = []
    for item in spec:
        if isinstance(item, str):
            m = _HOURS.match(item)
            if not m:
                raise ConfigError(f"working hours: {item!r} is not HH:MM-HH:MM")
            h1, m1, h2, m2 = map(int, m.groups())
            if h2 == 24 and m2 == 0:
                raise ConfigError(f"working hours: {item!r}: end a day at 23:59, not 24:00")
            try:
                periods.append((time(h1, m1), time(h2, m2)))
            except ValueError as e:
                raise ConfigError(f"working hours: {item!r}: {e}") from None
        else:
            start, end = item
            periods.append((start, end))
    if not periods:
        raise ConfigError("working hours: at least one period is needed")
    for (s1, e1), nxt in zip(periods, [*periods[1:], None]):
        if s1 >= e1:
            raise ConfigError(f"working hours: period {s1:%H:%M}-{e1:%H:%M} ends before it starts")
        if nxt is not None and nxt[0] < e1:
            raise ConfigError(f"working hours: periods must be in order and not overlap "
                              f"({s1:%H:%M}-{e1:%H:%M} then {nxt[0]:%H:%M}-{nxt[1]:%H:%M})")
    return tuple(periods)


def _us_of_day(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * US + t.microsecond


class WorkCalendar:
    """Working days and hours of the support contract; see the module docstring for precedence."""

    def __init__(self, *, timezone: str = DEFAULT_TIMEZONE,
                 periods: Sequence[str] | Sequence[tuple[time, time]] = DEFAULT_PERIODS,
                 use_package: bool = True) -> None:
        try:
            self.tz = ZoneInfo(timezone)
        except Exception as e:  # ZoneInfoNotFoundError, ValueError for malformed keys
            raise ConfigError(f"unknown time zone {timezone!r}: {e}") from None
        self.periods = parse_hours(periods)
        # Periods as [start_us, end_us) offsets from local midnight.
        self._spans = [(_us_of_day(s), _us_of_day(e)) for s, e in self.periods]
        self.day_us = sum(e - s for s, e in self._spans)
        self._package = _package_years() if use_package else None
        self._schedules: dict[int, Schedule] = {}
        self._imported: dict[int, Schedule] = {}
        self._overrides: dict[date, bool] = {}  # imported days: True = working day
        self.generation: int | None = None  # of the imported set (collector.calendar.store)
        self._years: dict[int, _Year] = {}
        self._warned: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, data: Mapping[str, Any] | None, base_dir: str | Path | None = None) -> WorkCalendar:
        """Build from the collector config's `sla.calendar` mapping.

        Keys: `timezone` ("Asia/Shanghai"), `hours` (["08:00-12:00", "13:00-18:00"]),
        `schedules` (list of YAML/JSON files; relative paths are taken from `base_dir`).
        """
        data = dict(data or {})
        unknown = set(data) - {"timezone", "hours", "schedules"}
        if unknown:
            raise ConfigError(f"sla.calendar: unknown key(s) {', '.join(sorted(unknown))} "
                              f"(expected timezone, hours, schedules)")
        cal = cls(timezone=str(data.get("timezone", DEFAULT_TIMEZONE)),
                  periods=data.get("hours", DEFAULT_PERIODS))
        files = data.get("schedules") or []
        if isinstance(files, (str, Path)):
            files = [files]
        for f in files:
            p = Path(f)
            if base_dir is not None and not p.is_absolute():
                p = Path(base_dir) / p
            cal.load_schedule(p)
        return cal

    # -- schedules -------------------------------------------------------------------------------

    def load_schedule(self, path: str | Path, *, allow_example: bool = False) -> Schedule:
        """Load one year's schedule from a .yaml/.yml/.json file; replaces an earlier one for that year."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise ScheduleError(f"{p}: cannot read holiday schedule: {e.strerror or e}") from None
        try:
            data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as e:
            raise ScheduleError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: "
                                f"{e}") from None
        return self.add_schedule(data, source=str(p), allow_example=allow_example)

    def add_schedule(self, data: Any, *, source: str = "<mapping>", allow_example: bool = False) -> Schedule:
        """Validate a schedule mapping (same shape as the file) and use it for its year."""
        sched = parse_schedule(data, source, allow_example=allow_example)
        with self._lock:
            self._schedules[sched.year] = sched
            self._years.pop(sched.year, None)
            self._warned.discard(sched.year)
        log.info("holiday schedule for %d loaded from %s: %d holidays, %d 调休 workdays",
                 sched.year, source, len(sched.holidays), len(sched.workdays))
        return sched

    def set_imported(self, schedules: Iterable[Schedule], generation: int | None = None) -> None:
        """Use these imported years (replacing the previous imported set) ahead of files and package."""
        by_year = {s.year: s for s in schedules}
        overrides: dict[date, bool] = {}
        # A notice may name days of the December before its year (2019's names 2018-12-29..31); a
        # year's own days are applied last, so they win over a neighbour's spill-over.
        for own in (False, True):
            for sched in by_year.values():
                for d, flag in [*((d, False) for d in sched.holidays), *((d, True) for d in sched.workdays)]:
                    if (d.year == sched.year) == own:
                        overrides[d] = flag
        with self._lock:
            self._imported = by_year
            self._overrides = overrides
            self._years.clear()
            self._warned.difference_update(by_year)
            self.generation = generation

    def is_covered(self, year: int) -> bool:
        """True if `year` has real holiday data (imported, file or package), False on the Mon–Fri fallback."""
        return year in self._imported or year in self._schedules or self._covered_by_package(year)

    def source_of(self, year: int) -> tuple[str, str]:
        """(kind, description) of where `year`'s days come from: import | file | package | fallback."""
        if year in self._imported:
            return "import", self._imported[year].source
        if year in self._schedules:
            return "file", self._schedules[year].source
        if self._covered_by_package(year):
            return "package", "chinese_calendar"
        return "fallback", "周一至周五 (无节假日数据)"

    def on_fallback(self, start: datetime, end: datetime) -> bool:
        """True if any day from `start` to `end` (aware) lies in a year without holiday data."""
        a, b = sorted((self.to_local(start).year, self.to_local(end).year))
        return any(not self.is_covered(y) for y in range(a, b + 1))

    def exceptions(self, year: int) -> tuple[list[date], list[date]]:
        """(weekdays that are days off, weekend days that are working days) of `year`, as the clocks see it."""
        off: list[date] = []
        worked: list[date] = []
        d = date(year, 1, 1)
        while d.year == year:
            work = self.is_workday(d)
            if d.weekday() < 5 and not work:
                off.append(d)
            elif d.weekday() >= 5 and work:
                worked.append(d)
            d += timedelta(days=1)
        return off, worked

    def _covered_by_package(self, year: int) -> bool:
        return self._package is not None and self._package[0] <= year <= self._package[1]

    def _warn_uncovered(self, year: int) -> None:
        if year in self._warned:
            return
        self._warned.add(year)
        log.warning(
            "no holiday schedule for %d: falling back to Mon–Fri; import the State Council notice with "
            "`xunjian-collector calendar import` or the console's /console/calendar (docs/calendar.md) "
            "(缺少 %d 年法定节假日安排，暂按周一至周五计算工作日，请导入国务院办公厅发布的放假通知)",
            year, year)

    # -- questions -------------------------------------------------------------------------------

    def is_workday(self, day: date) -> bool:
        """True if `day` (a date; a datetime is taken as its date as written) is a working day."""
        if isinstance(day, datetime):
            day = day.date()
        year = self._years.get(day.year)
        if year is not None:
            return year.workday[day.toordinal() - year.first_ordinal]
        return self._compute_workday(day)

    def _compute_workday(self, day: date) -> bool:
        imported = self._overrides.get(day)
        if imported is not None:
            return imported
        if day.year in self._imported:
            return day.weekday() < 5
        sched = self._schedules.get(day.year)
        if sched is not None:
            if day in sched.workdays:
                return True
            if day in sched.holidays:
                return False
        if self._covered_by_package(day.year):
            import chinese_calendar

            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:  # data narrower than its own tables claim: never crash
                pass
        elif sched is None:
            self._warn_uncovered(day.year)
        return day.weekday() < 5

    def is_working_time(self, when: datetime) -> bool:
        """True if the aware datetime `when` falls in a working period ([start, end))."""
        local = self.to_local(when)
        if not self.is_workday(local.date()):
            return False
        us = _us_of_day(local.time())
        return any(s <= us < e for s, e in self._spans)

    def to_local(self, when: datetime) -> datetime:
        """Naive local wall-clock time of an aware datetime; naive input is refused (ambiguous)."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"naive datetime {when.isoformat()}: pass an aware datetime (e.g. with tzinfo)")
        return when.astimezone(self.tz).replace(tzinfo=None)

    def from_local(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.tz)

    # -- working-time coordinates (used by collector.sla.clock) ---------------------------------

    def _year(self, year: int) -> _Year:
        y = self._years.get(year)
        if y is None:
            with self._lock:
                first = date(year, 1, 1)
                n = (date(year + 1, 1, 1) - first).days
                flags = [self._compute_workday(first + timedelta(days=i)) for i in range(n)]
                cum = [0]
                for w in flags:
                    cum.append(cum[-1] + (self.day_us if w else 0))
                y = _Year(flags, cum, first.toordinal())
                self._years[year] = y
        return y

    def year_total_us(self, year: int) -> int:
        """Working microseconds in `year`."""
        return self._year(year).total

    def _within_day(self, us: int) -> int:
        done = 0
        for s, e in self._spans:
            if us <= s:
                break
            done += min(us, e) - s
        return done

    def offset_in_year(self, local: datetime) -> tuple[int, int]:
        """(year, working microseconds of that year elapsed before the naive local time `local`)."""
        y = self._year(local.year)
        i = local.toordinal() - y.first_ordinal
        off = y.cum[i]
        if y.workday[i]:
            off += self._within_day(_us_of_day(local.time()))
        return local.year, off

    def local_at_offset(self, year: int, offset: int) -> datetime:
        """The earliest naive local time at which `offset` (> 0) working microseconds of `year` elapsed."""
        y = self._year(year)
        if not 0 < offset <= y.total:
            raise ValueError(f"offset {offset} outside year {year}'s working time (0, {y.total}]")
        i = bisect.bisect_left(y.cum, offset) - 1
        left = offset - y.cum[i]
        day = date.fromordinal(y.first_ordinal + i)
        for s, e in self._spans:
            if left <= e - s:
                return datetime.combine(day, time()) + timedelta(microseconds=s + left)
            left -= e - s
        raise AssertionError("unreachable: offset beyond the day's working time")


def _parse_date(raw: Any, where: str) -> date:
    if isinstance(raw, datetime):
        raise ScheduleError(f"{where}: {raw!r} has a time; write a date like 2027-02-05")
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise ScheduleError(f"{where}: {raw!r} is not a date (write YYYY-MM-DD, e.g. 2027-02-05)")


def _entries(raw: Any, key: str, where: str) -> Iterable[tuple[date, str, str]]:
    """Yield (date, name, entry description) from a list of dates, {date, name} or {from, to, name}."""
    if raw is None:
        return
    if not isinstance(raw, list):
        raise ScheduleError(f"{where}: {key} must be a list, got {type(raw).__name__}")
    for n, item in enumerate(raw):
        here = f"{where}: {key}[{n}]"
        if isinstance(item, dict):
            extra = set(item) - {"date", "from", "to", "name"}
            if extra:
                raise ScheduleError(f"{here}: unknown key(s) {', '.join(map(str, sorted(extra)))} "
                                    f"(use date or from/to, and name)")
            name = str(item.get("name") or "")
            if "date" in item:
                if "from" in item or "to" in item:
                    raise ScheduleError(f"{here}: give either date or from/to, not both")
                yield _parse_date(item["date"], here), name, here
                continue
            if "from" not in item or "to" not in item:
                raise ScheduleError(f"{here}: a range needs both from and to")
            start, end = _parse_date(item["from"], here), _parse_date(item["to"], here)
            if end < start:
                raise ScheduleError(f"{here}: range ends ({end}) before it starts ({start})")
            if (end - start).days >= MAX_RANGE_DAYS:
                raise ScheduleError(f"{here}: range {start}..{end} is longer than {MAX_RANGE_DAYS} days")
            for i in range((end - start).days + 1):
                yield start + timedelta(days=i), name, here
        else:
            yield _parse_date(item, here), "", here


def parse_schedule(data: Any, source: str = "<mapping>", *, allow_example: bool = False) -> Schedule:
    """Validate one year's schedule mapping; raises ScheduleError naming `source` and the entry."""
    if not isinstance(data, dict):
        raise ScheduleError(f"{source}: a holiday schedule is a mapping with year, holidays, workdays")
    unknown = [k for k in data if k not in _SCHEDULE_KEYS]
    if unknown:
        raise ScheduleError(f"{source}: unknown key(s) {', '.join(map(str, unknown))} "
                            f"(expected {', '.join(_SCHEDULE_KEYS)})")
    if data.get("example") and not allow_example:
        raise ScheduleError(f"{source}: this is an example file with invented dates; copy it, enter "
                            f"the dates of the State Council notice (国务院办公厅放假通知) and remove "
                            f"`example: true`")
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ScheduleError(f"{source}: year must be a year like 2027, got {year!r}")
    where = f"{source} ({year})"
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    seen: dict[date, str] = {}
    for key, target in (("holidays", holidays), ("workdays", workdays)):
        for d, name, here in _entries(data.get(key), key, where):
            if d.year != year:
                raise ScheduleError(f"{here}: {d} is outside the declared year {year} "
                                    f"(put it in the {d.year} schedule)")
            if d in seen:
                what = "both a holiday and a workday" if seen[d] != key else f"listed twice in {key}"
                raise ScheduleError(f"{here}: {d} is {what}")
            if key == "workdays" and d.weekday() < 5:
                raise ScheduleError(f"{here}: {d} is a {d:%A}; only Saturdays and Sundays can be 调休 "
                                    f"workdays (weekdays are working days already)")
            seen[d] = key
            target[d] = name
    if not holidays:
        raise ScheduleError(f"{where}: no holidays listed; a year always has public holidays")
    return Schedule(year=year, holidays=holidays, workdays=workdays,
                    source=str(data.get("source") or source))


_default: WorkCalendar | None = None


def default_calendar() -> WorkCalendar:
    """The process-wide calendar (package data + Mon–Fri fallback); load schedules into it at startup."""
    global _default
    if _default is None:
        _default = WorkCalendar()
    return _default
