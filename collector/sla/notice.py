"""The State Council's holiday notice (国务院办公厅关于YYYY年部分节假日安排的通知), read as published.

An operator pastes the notice as plain text; each numbered item gives one holiday's days off and the
weekend days worked instead (调休), e.g.

    二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。1月26日（周日）、2月8日（周六）上班。

Full-width and half-width punctuation are both read (NFKC). Every figure the notice states is checked
against the dates: a weekday in brackets, 共N天 / 放假N天 against the range, 上班 days on a weekend, a range
that runs backwards or wraps into another year without saying so. An error names the line and quotes
it. A notice must name all seven holidays. A later notice pasted after the items is applied too: a
change of one holiday (关于调整2019年劳动节假期安排的通知 replaces what the first said about 劳动节) or an
extension (延长2020年春节假期至2月2日… extends that holiday). Reprints in traditional characters
(國慶節, 放假調休) are read as well.

Dates written with another year (2018年12月30日至2019年1月1日, in the 2019 notice) are kept: they are the
previous December's part of the arrangement and apply to those days.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta

from collector.sla.calendar import MAX_RANGE_DAYS, Schedule, ScheduleError

HOLIDAY_NAMES = ("元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节")
_NUM = "一二三四五六七八九十"
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_NAMES = "|".join(HOLIDAY_NAMES)
_TITLE = re.compile(r"关于\s*(\d{4})\s*年\s*部分节假日安排")
# "二、春节:" (also "二.春节:", "- 春节 :", "春节:") at the start of a line, after NFKC.
_ITEM = re.compile(rf"^\s*(?:[{_NUM}]+\s*[、.]|[-*•·])?\s*(?P<names>(?:{_NAMES})(?:\s*[、,和]\s*(?:{_NAMES}))*)"
                   rf"\s*:\s*(?P<body>.*)$")
# Items run together on one line (a notice pasted from a page without line breaks).
_ITEM_START = re.compile(rf"(?<=[。\s])(?=[{_NUM}]+、(?:{_NAMES})[^:。]{{0,12}}:)")
_DATE = re.compile(r"(?:(?P<y>\d{4})\s*年\s*)?(?:(?P<m>\d{1,2})\s*月\s*)?(?P<d>\d{1,2})\s*日"
                   r"(?:\s*\((?P<note>[^)]*)\))?")
_STATED_WEEKDAY = re.compile(r"(?:周|星期)([一二三四五六日天])")
_EXTEND = re.compile(rf"延长\s*(?:(?P<y>\d{{4}})\s*年)?\s*(?P<name>{_NAMES})\s*假期至")
_ADJUST = re.compile(rf"关于调整\s*(?:(?P<y>\d{{4}})\s*年)?\s*(?P<name>{_NAMES})\s*假期安排")
_ADJUST_ITEM = re.compile(rf"^\s*[{_NUM}]+\s*、(?P<body>[^:]*放假.*)$")
_WEEKDAY_ZH = "一二三四五六日"
# The characters of the notice's fixed words that differ in traditional reprints (國務院辦公廳關於…).
_SIMPLIFIED = str.maketrans("節勞動國慶調關於週農曆務辦廳", "节劳动国庆调关于周农历务办厅")


class NoticeError(ScheduleError):
    """A notice that does not add up; the message names the line and quotes it."""


@dataclass
class ParsedNotice:
    year: int
    title: str
    holidays: dict[date, str] = field(default_factory=dict)
    workdays: dict[date, str] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)  # holiday names in the notice's order

    def schedule(self, source: str = "") -> Schedule:
        return Schedule(year=self.year, holidays=dict(sorted(self.holidays.items())),
                        workdays=dict(sorted(self.workdays.items())), source=source or self.title)


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_SIMPLIFIED)


def looks_like_notice(text: str) -> bool:
    """True for pasted notice text (as opposed to a YAML/JSON schedule)."""
    t = _normal(text)
    return bool(_TITLE.search(t)) or any(_ITEM.match(line) and ("放假" in line)
                                         for line in t.splitlines())


def _zh_day(d: date) -> str:
    return f"{d:%Y-%m-%d}（周{_WEEKDAY_ZH[d.weekday()]}）"


class _Line:
    def __init__(self, number: int, text: str, quote: str) -> None:
        self.number = number
        self.text = text  # NFKC-normalised, what is parsed
        self.quote = quote  # as pasted, for messages

    def error(self, message: str) -> NoticeError:
        quoted = self.quote.strip()
        if len(quoted) > 80:
            quoted = quoted[:80] + "…"
        return NoticeError(f"第 {self.number} 行「{quoted}」: {message}")


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = _normal(raw)
        parts = [p for p in _ITEM_START.split(line) if p.strip()]
        for part in parts:
            out.append(_Line(n, part, raw if len(parts) == 1 else part))
    return out


def _year_of(text: str, given: int | None) -> int:
    m = _TITLE.search(_normal(text))
    found = int(m.group(1)) if m else None
    if given is not None and found is not None and given != found:
        raise NoticeError(f"通知标题写的是 {found} 年, 但指定了 --year {given}")
    year = given if given is not None else found
    if year is None:
        raise NoticeError("看不出年份: 请连同标题「国务院办公厅关于YYYY年部分节假日安排的通知」一起粘贴, "
                          "或指定年份 (--year)")
    if not 2000 <= year <= 2100:
        raise NoticeError(f"年份 {year} 不合理")
    return year


def _date_at(m: re.Match[str], year: int, month: int | None, line: _Line) -> date:
    y = int(m.group("y")) if m.group("y") else year
    mo = int(m.group("m")) if m.group("m") else month
    if mo is None:
        raise line.error(f"「{m.group(0)}」没有月份")
    try:
        d = date(y, mo, int(m.group("d")))
    except ValueError:
        raise line.error(f"「{m.group(0)}」不是有效日期") from None
    note = m.group("note") or ""
    stated = _STATED_WEEKDAY.search(note)
    if stated and _WEEKDAY[stated.group(1)] != d.weekday():
        raise line.error(f"{d:%Y-%m-%d} 是周{_WEEKDAY_ZH[d.weekday()]}, 通知写的是{stated.group(0)}")
    return d


def _near_year(d: date, year: int, line: _Line) -> None:
    """The notice's year, or the December before / January after it (a New Year holiday across years)."""
    if not (d.year == year or (d.year == year - 1 and d.month == 12) or (d.year == year + 1 and d.month == 1)):
        raise line.error(f"{d} 不在 {year} 年内 (跨年的元旦假期只能涉及前一年12月或后一年1月)")


def _days_off(clause: str, year: int, line: _Line) -> list[date]:
    """The dates of '1月28日(…)至2月4日(…)放假调休,共8天' / '4月5日放假' (the part before 放假)."""
    head = clause.partition("放假")[0]
    dates = list(_DATE.finditer(head))
    if not dates:
        raise line.error("「放假」前没有日期")
    between = _DATE.sub("", head).strip()
    if len(dates) > 2 or (len(dates) == 2 and "至" not in between):
        raise line.error("放假日期看不懂: 应为「X月X日放假」或「X月X日至X月X日放假」")
    start = _date_at(dates[0], year, None, line)
    end = start
    if len(dates) == 2:
        end_m = dates[1]
        end = _date_at(end_m, int(end_m.group("y") or start.year), start.month, line)
        if end < start:
            if not (dates[0].group("y") or end_m.group("y")) and start.month == 12 and end.month == 1:
                raise line.error(f"放假区间 {start.month}月{start.day}日至{end.month}月{end.day}日跨年了; 跨年的区间"
                                 f"请写明年份 (如 {start.year - 1}年12月31日至{start.year}年1月2日)")
            raise line.error(f"放假区间结束 ({end}) 早于开始 ({start})")
    n = (end - start).days + 1
    if n > MAX_RANGE_DAYS:
        raise line.error(f"放假区间 {start} 至 {end} 超过 {MAX_RANGE_DAYS} 天")
    for stated in re.finditer(r"(?:共|放假)\s*(\d+)\s*天", clause):
        if int(stated.group(1)) != n:
            raise line.error(f"写的是 {stated.group(0)}, 但 {start:%m月%d日} 至 {end:%m月%d日} 是 {n} 天")
    for d in (start, end):
        _near_year(d, year, line)
    return [start + timedelta(days=i) for i in range(n)]


def _work_days(clause: str, year: int, line: _Line) -> list[date]:
    head = clause.partition("上班")[0]
    out: list[date] = []
    month: int | None = None
    for m in _DATE.finditer(head):
        d = _date_at(m, year, month, line)
        month = d.month
        _near_year(d, year, line)
        if d.weekday() < 5:
            raise line.error(f"上班日 {_zh_day(d)}不是周末; 调休上班只能是周六或周日")
        out.append(d)
    if not out:
        raise line.error("「上班」前没有日期")
    return out


def parse_notice(text: str, *, year: int | None = None, complete: bool = True) -> ParsedNotice:
    """Parse a pasted notice; raises NoticeError naming the line that does not add up.

    `complete`: every one of the seven holidays must have its item (a paste cut short would otherwise
    leave, say, Spring Festival on the Mon–Fri rule without anyone noticing)."""
    if not text or not text.strip():
        raise NoticeError("通知内容为空")
    y = _year_of(text, year)
    m = _TITLE.search(_normal(text))
    notice = ParsedNotice(year=y, title=f"国务院办公厅关于{y}年部分节假日安排的通知" if m else
                          f"{y}年部分节假日安排 (粘贴的通知)")
    seen: dict[date, tuple[str, _Line]] = {}

    def put(d: date, name: str, target: dict[date, str], line: _Line) -> None:
        if d in seen:
            other_name, other = seen[d]
            raise line.error(f"{d} 已在第 {other.number} 行 ({other_name}) 出现过")
        seen[d] = (name, line)
        target[d] = name

    adjusting: str | None = None  # inside a later notice that changes one holiday (关于调整2019年劳动节假期安排)
    for line in _lines(text):
        ext = _EXTEND.search(line.text)
        if ext:
            _extend(notice, ext, line, y, seen)
            continue
        adjust = _ADJUST.search(line.text)
        if adjust:
            if adjust.group("y") and int(adjust.group("y")) != y:
                raise line.error(f"调整的是 {adjust.group('y')} 年的假期, 不是 {y} 年")
            adjusting = adjust.group("name")
            continue
        item = _ITEM.match(line.text)
        if item:
            name = re.sub(r"\s*[、,和]\s*", "、", item.group("names"))
            body = item.group("body")
        elif adjusting and (changed := _ADJUST_ITEM.match(line.text)):
            name, body = adjusting, changed.group("body")
            _forget(notice, name, seen)
            adjusting = None
        else:
            continue
        if "放假" not in body:
            raise line.error("没有找到「放假」: 每个节日应写明放假日期")
        notice.items.append(name)
        for clause in re.split(r"[。;]", body):
            if "放假" in clause:
                for d in _days_off(clause, y, line):
                    put(d, name, notice.holidays, line)
            elif "上班" in clause:
                for d in _work_days(clause, y, line):
                    put(d, name, notice.workdays, line)
    if not notice.holidays:
        raise NoticeError(f"没有读到任何放假安排 ({y} 年): 请粘贴通知正文, 其中每项形如"
                          f"「一、元旦：1月1日放假，共1天。」")
    named = {n for item in notice.items for n in item.split("、")}
    missing = [n for n in HOLIDAY_NAMES if n not in named]
    if complete and missing:
        raise NoticeError(f"通知缺少 {'、'.join(missing)} 的放假安排 (是否只粘贴了一部分?); 国务院办公厅的通知"
                          f"每年都列出元旦、春节、清明节、劳动节、端午节、中秋节和国庆节")
    return notice


def _forget(notice: ParsedNotice, name: str, seen: dict[date, tuple[str, _Line]]) -> None:
    """A later notice replaces one holiday's arrangement: drop what the first one said about it."""
    for target in (notice.holidays, notice.workdays):
        for d in [d for d, n in target.items() if name in n.split("、")]:
            del target[d]
            seen.pop(d, None)


def _extend(notice: ParsedNotice, m: re.Match[str], line: _Line, year: int,
            seen: dict[date, tuple[str, _Line]]) -> None:
    """'延长2020年春节假期至2月2日(…)': the holiday's days off now run to that date; 上班 days in between go."""
    name = m.group("name")
    if m.group("y") and int(m.group("y")) != year:
        raise line.error(f"延长的是 {m.group('y')} 年的假期, 不是 {year} 年")
    days = sorted(d for d, n in notice.holidays.items() if name in n.split("、"))
    if not days:
        raise line.error(f"延长{name}假期, 但通知里没有{name}的放假安排")
    target = _DATE.match(line.text, m.end())
    if target is None:
        raise line.error("「假期至」后没有日期")
    end = _date_at(target, year, None, line)
    if end <= days[-1] or (end - days[-1]).days > MAX_RANGE_DAYS:
        raise line.error(f"延长至 {end} 不在原假期 ({days[-1]}) 之后的合理范围内")
    d = days[-1] + timedelta(days=1)
    while d <= end:
        notice.workdays.pop(d, None)
        seen[d] = (name, line)
        notice.holidays[d] = notice.holidays[days[-1]]
        d += timedelta(days=1)
