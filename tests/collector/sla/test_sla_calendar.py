from __future__ import annotations

import json
import logging
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import chinese_calendar
import pytest
from sla_helpers import sh

from checks.options import ConfigError
from collector.sla.calendar import ScheduleError, WorkCalendar

SCHEDULE_2027 = """\
year: 2027
source: test schedule (invented dates)
holidays:
  - 2027-01-01
  - {from: 2027-02-06, to: 2027-02-12, name: 春节}
  - {date: 2027-10-01, name: 国庆节}
workdays:
  - 2027-02-13          # a Saturday
  - {date: 2027-02-21, name: 春节}   # a Sunday
"""


def write(tmp_path: Path, text: str, name: str = "2027.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_2026_package_data_as_looked_up(cal):
    # Looked up in chinese_calendar 1.11: Mid-autumn 2026-09-25..27 and National Day 10-01..07 off,
    # 2026-09-20 (Sun) and 2026-10-10 (Sat) are 调休 workdays.
    for d in [date(2026, 9, 25), date(2026, 9, 27), date(2026, 10, 1), date(2026, 10, 7)]:
        assert not cal.is_workday(d)
    assert cal.is_workday(date(2026, 9, 20)) and date(2026, 9, 20).weekday() == 6
    assert cal.is_workday(date(2026, 10, 10)) and date(2026, 10, 10).weekday() == 5
    assert cal.is_workday(date(2026, 10, 8))
    for d in (date(2026, 1, 1) + timedelta(days=i) for i in range(365)):
        assert cal.is_workday(d) == chinese_calendar.is_workday(d), d


def test_covered_years(cal):
    assert cal.is_covered(2026) and not cal.is_covered(2027)


def test_is_working_time_boundaries_and_zones(cal):
    assert cal.is_working_time(sh(2026, 11, 25, 8))
    assert not cal.is_working_time(sh(2026, 11, 25, 7, 59, 59))
    assert cal.is_working_time(sh(2026, 11, 25, 11, 59, 59))
    assert not cal.is_working_time(sh(2026, 11, 25, 12))
    assert cal.is_working_time(sh(2026, 11, 25, 13))
    assert not cal.is_working_time(sh(2026, 11, 25, 18))
    # 01:30 UTC is 09:30 in Shanghai
    assert cal.is_working_time(datetime(2026, 11, 25, 1, 30, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="naive"):
        cal.is_working_time(datetime(2026, 11, 25, 9))


def test_load_2027_yaml(tmp_path, cal, caplog):
    sched = cal.load_schedule(write(tmp_path, SCHEDULE_2027))
    assert sched.year == 2027 and len(sched.holidays) == 9 and sched.holidays[date(2027, 2, 8)] == "春节"
    assert cal.is_covered(2027)
    assert not cal.is_workday(date(2027, 2, 8))  # a Monday inside the range
    assert cal.is_workday(date(2027, 2, 13))  # Saturday made a workday
    assert cal.is_workday(date(2027, 3, 3))  # ordinary Wednesday
    assert not cal.is_workday(date(2027, 3, 6))  # ordinary Saturday
    with caplog.at_level(logging.WARNING):
        cal.is_workday(date(2027, 6, 1))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_load_json_and_reload_replaces(tmp_path, cal):
    data = {"year": 2027, "holidays": ["2027-01-01"], "workdays": []}
    cal.load_schedule(write(tmp_path, json.dumps(data), "2027.json"))
    assert cal.is_workday(date(2027, 2, 8))
    cal.load_schedule(write(tmp_path, SCHEDULE_2027))
    assert not cal.is_workday(date(2027, 2, 8))


def test_file_overrides_package_date_by_date(cal):
    cal.add_schedule({"year": 2026, "holidays": ["2026-11-25"]})
    assert not cal.is_workday(date(2026, 11, 25))
    assert not cal.is_workday(date(2026, 10, 1))  # still the package's answer


@pytest.mark.parametrize("text, message", [
    ("year: 2027\nholidays: [2028-01-01]\n", "outside the declared year 2027"),
    ("year: 2027\nholidays: [2027-02-13]\nworkdays: [2027-02-13]\n", "both a holiday and a workday"),
    ("year: 2027\nholidays: [2027-01-01, 2027-01-01]\n", "listed twice"),
    ("year: 2027\nholidays: [2027-01-01]\nworkdays: [2027-02-15]\n", "only Saturdays and Sundays"),
    ("year: 2027\nholidays: []\n", "no holidays listed"),
    ("year: 27\nholidays: [2027-01-01]\n", "year must be a year"),
    ("year: 2027\nholidays: ['2027-13-01']\n", "not a date"),
    ("year: 2027\nholidays: [2027-13-01]\n", "month must be in 1..12"),
    ("year: 2027\nholidays: [{from: 2027-02-11, to: 2027-02-05}]\n", "ends .* before it starts"),
    ("year: 2027\nholidays: [{from: 2027-02-01}]\n", "needs both from and to"),
    ("year: 2027\nholidays: [{from: 2027-01-01, to: 2027-03-01}]\n", "longer than 31 days"),
    ("year: 2027\nholiday: [2027-01-01]\n", "unknown key"),
    ("example: true\nyear: 2027\nholidays: [2027-01-01]\n", "example file"),
    ("- 2027-01-01\n", "is a mapping"),
    ("year: 2027\nholidays: [2027-01-01\n", "not valid YAML"),
])
def test_schedule_validation(tmp_path, cal, text, message):
    p = write(tmp_path, text)
    with pytest.raises(ScheduleError, match=message) as e:
        cal.load_schedule(p)
    assert str(p) in str(e.value)
    assert isinstance(e.value, ConfigError)
    assert not cal.is_covered(2027)


def test_missing_file(tmp_path, cal):
    with pytest.raises(ScheduleError, match="cannot read"):
        cal.load_schedule(tmp_path / "nope.yaml")


def test_shipped_example_is_valid_but_refused_by_default(cal):
    example = Path(__file__).parents[3] / "collector" / "sla" / "schedules" / "2027.example.yaml"
    assert "EXAMPLE" in example.read_text(encoding="utf-8").splitlines()[0]
    with pytest.raises(ScheduleError, match="example"):
        cal.load_schedule(example)
    assert cal.load_schedule(example, allow_example=True).year == 2027


def test_uncovered_year_warns_once_and_falls_back(cal, caplog):
    with caplog.at_level(logging.WARNING, logger="collector.sla.calendar"):
        assert cal.is_workday(date(2028, 1, 3))  # Monday
        assert not cal.is_workday(date(2028, 1, 1))  # Saturday (would be New Year's Day anyway)
        assert cal.is_workday(date(2028, 2, 1))
        cal.is_working_time(sh(2028, 5, 1, 9))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "no holiday schedule for 2028: falling back to Mon–Fri" in warnings[0].getMessage()
    assert "xunjian-collector calendar import" in warnings[0].getMessage()  # names the fix
    assert not cal.is_covered(2028)


def test_loading_a_year_after_fallback_takes_effect(cal, caplog):
    assert cal.is_workday(date(2028, 1, 3))
    cal.add_schedule({"year": 2028, "holidays": ["2028-01-03"]})
    assert not cal.is_workday(date(2028, 1, 3))


def test_hours_and_config(tmp_path):
    p = write(tmp_path, SCHEDULE_2027)
    cal = WorkCalendar.from_config({"hours": ["09:00-12:00", "13:30-17:30"], "schedules": [p.name]},
                                   base_dir=tmp_path)
    assert cal.periods == ((time(9), time(12)), (time(13, 30), time(17, 30)))
    assert cal.is_covered(2027)
    for bad in (["12:00-09:00"], ["08:00-12:00", "11:00-18:00"], ["8-12"], []):
        with pytest.raises(ConfigError, match="working hours"):
            WorkCalendar(periods=bad)
    with pytest.raises(ConfigError, match="unknown key"):
        WorkCalendar.from_config({"hour": []})
    with pytest.raises(ConfigError, match="time zone"):
        WorkCalendar(timezone="Mars/Olympus")
