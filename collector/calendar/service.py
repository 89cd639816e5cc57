"""Importing a year's holiday arrangement into the database, and every process's calendar following it.

Each collector process keeps its WorkCalendar in memory. `sync` compares the calendar's generation
with the highest `calendar_imports.id` (one index lookup) and reloads the imported years when another
process (or the CLI) imported since; `collector.runtime.runtime(settings, db)` calls it, so every
request, job and ticket computation that has a database session sees an import at once.

An import recomputes the response due time of every ticket whose clock still runs (active, not yet
responded) and whose due time falls in a year the import touches, writes why on its timeline, and
takes back a "breached" verdict that only the missing year caused. Closed and responded tickets keep
their history.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Optional

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from checks.text import clean_text
from collector.calendar.models import CalendarImport
from collector.calendar.recompute import ImportResult, recompute
from collector.calendar.sync import sync
from collector.sla.calendar import Schedule, ScheduleError, WorkCalendar, parse_schedule
from collector.sla.notice import looks_like_notice, parse_notice

MAX_TEXT = 200_000  # characters; a notice is about 1,500
WARN_DAYS = 60  # the next year's missing calendar is shown this many days before it starts


@dataclass(frozen=True)
class Parsed:
    schedule: Schedule
    format: str  # notice | yaml
    text: str


def parse_text(text: str, *, year: Optional[int] = None, source: str = "") -> Parsed:
    """A pasted notice or a YAML/JSON schedule (the format of collector/sla/schedules/2027.example.yaml).
    The text is kept for the audit as pasted, but with NUL, control characters and lone surrogates made
    U+FFFD (as the agent does with plugin output): PostgreSQL cannot store them."""
    text = clean_text(text)
    if len(text) > MAX_TEXT:
        raise ScheduleError(f"内容过长 ({len(text)} 字符, 上限 {MAX_TEXT})")
    if not text.strip():
        raise ScheduleError("内容为空: 请粘贴国务院办公厅放假通知, 或 YAML 格式的节假日安排")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not (isinstance(data, dict) and ("year" in data or "holidays" in data)):
        if not looks_like_notice(text) and text.lstrip().startswith(("year", "holidays", "{", "#")):
            raise ScheduleError("看起来是 YAML 节假日安排, 但不是有效的 YAML 映射 (year / holidays / workdays)")
        return Parsed(parse_notice(text, year=year).schedule(), "notice", text)
    sched = parse_schedule(data, source or "导入的 YAML")
    if year is not None and sched.year != year:
        raise ScheduleError(f"文件写的是 {sched.year} 年, 但指定了 --year {year}")
    return Parsed(sched, "yaml", text)


def _pairs(days: dict[date, str]) -> list[list[str]]:
    return [[d.isoformat(), name] for d, name in sorted(days.items())]


def history(db: Session, limit: int = 50) -> list[CalendarImport]:
    return list(db.scalars(sa.select(CalendarImport).order_by(CalendarImport.id.desc()).limit(limit)))


# -- showing a year ------------------------------------------------------------------------------

def year_view(calendar: WorkCalendar, year: int) -> dict[str, Any]:
    """The year as the clocks see it (`calendar show --json`)."""
    kind, source = calendar.source_of(year)
    off, worked = calendar.exceptions(year)
    return {"year": year, "source": kind if kind != "import" else f"import: {source}",
            "holidays": [d.isoformat() for d in off], "workdays": [d.isoformat() for d in worked]}


_WD = "一二三四五六日"


def _runs(days: list[date]) -> list[tuple[date, date]]:
    out: list[tuple[date, date]] = []
    for d in days:
        if out and d - out[-1][1] == timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _day(d: date) -> str:
    return f"{d.month}月{d.day}日(周{_WD[d.weekday()]})"


def preview(schedule: Schedule) -> list[str]:
    """zh-CN lines listing what an import would use: holiday ranges by name, then 调休 workdays."""
    lines = [f"{schedule.year} 年: {schedule.source}"]
    by_name: dict[str, list[date]] = {}
    for d, name in sorted(schedule.holidays.items()):
        by_name.setdefault(name or "节假日", []).append(d)
    for name, days in by_name.items():
        spans = []
        for a, b in _runs(days):
            year_note = f"{a.year}年" if a.year != schedule.year else ""
            spans.append(year_note + (_day(a) if a == b else f"{_day(a)} 至 {_day(b)}"))
        lines.append(f"  放假 {name}: {', '.join(spans)}, 共 {len(days)} 天")
    work = [f"{d.year}年{_day(d)}" if d.year != schedule.year else _day(d) for d in sorted(schedule.workdays)]
    lines.append(f"  调休上班: {', '.join(work) if work else '无'}")
    weekdays_off = sum(1 for d in schedule.holidays if d.weekday() < 5)
    lines.append(f"  合计: 放假 {len(schedule.holidays)} 天 (其中工作日 {weekdays_off} 天), 调休上班 {len(work)} 天")
    return lines


# -- importing -----------------------------------------------------------------------------------

def import_schedule(*, db: Session, rt: Any, parsed: Parsed, actor: str, now: datetime) -> ImportResult:
    """Store the year, switch this process's calendar to it, recompute the running clocks it moves."""
    sched = parsed.schedule
    row = CalendarImport(year=sched.year, format=parsed.format, source=(sched.source or "")[:300],
                         source_text=parsed.text, holidays=_pairs(dict(sched.holidays)),
                         workdays=_pairs(dict(sched.workdays)), imported_by=actor[:64], imported_at=now,
                         tickets_recomputed=0)
    db.add(row)
    db.flush()
    sync(db, rt.calendar)
    years = {sched.year} | {d.year for d in [*sched.holidays, *sched.workdays]}
    result = ImportResult(row=row)
    recompute(db=db, rt=rt, years=years, now=now, actor=actor, reason=f"导入 {sched.year} 年工作日历 ({row.source})",
              result=result)
    row.tickets_recomputed = len(result.recomputed)
    return result


# -- coverage ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Coverage:
    today: date
    covered: dict[int, bool]  # the current and the next year
    uncovered: list[int]  # years to warn about now: this year if missing, next year from WARN_DAYS before

    @property
    def message(self) -> str:
        if not self.uncovered:
            return ""
        years = "、".join(str(y) for y in self.uncovered)
        first = min(self.uncovered)
        when = "已经开始" if first <= self.today.year else f"还有 {(date(first, 1, 1) - self.today).days} 天开始"
        return (f"缺少 {years} 年的法定节假日安排 ({first} 年{when}): 该年的服务单响应时限暂按周一至周五计算, "
                f"节假日和调休上班都不会被考虑。请管理员在「工作日历」页面 (/console/calendar) 粘贴国务院办公厅"
                f"关于{first}年部分节假日安排的通知, 或运行 xunjian-collector calendar import 导入。")


def coverage(calendar: WorkCalendar, now: datetime) -> Coverage:
    today = calendar.to_local(now).date()
    this, nxt = today.year, today.year + 1
    covered = {this: calendar.is_covered(this), nxt: calendar.is_covered(nxt)}
    uncovered = [y for y in (this, nxt) if not covered[y]
                 and (y == this or (date(y, 1, 1) - today).days <= WARN_DAYS)]
    return Coverage(today, covered, uncovered)
