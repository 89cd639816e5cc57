"""The notice parser on the published arrangements of 2019–2026 (test texts in the notices' format, see
notices.py) equals the chinese_calendar package day by day; bad notices are refused naming the line."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from collector.sla.calendar import WorkCalendar
from collector.sla.notice import NoticeError, looks_like_notice, parse_notice
from tests.collector.sla.notices import NOTICES

CST = ZoneInfo("Asia/Shanghai")


def _days(year: int, extra: set[date]) -> list[date]:
    first = date(year, 1, 1)
    return sorted({first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)} | extra)


@pytest.mark.parametrize("year", sorted(NOTICES))
def test_each_year_parses_equal_to_the_package_day_by_day(year: int) -> None:
    notice = parse_notice(NOTICES[year])
    assert notice.year == year and str(year) in notice.title
    spill = {d for d in [*notice.holidays, *notice.workdays] if d.year != year}
    wrong = [d for d in _days(year, spill)
             if (d in notice.workdays or (d.weekday() < 5 and d not in notice.holidays))
             != chinese_calendar.is_workday(d)]
    assert wrong == []
    # ...and a calendar with only the import (no package) answers like the package
    cal = WorkCalendar(use_package=False)
    cal.set_imported([notice.schedule()], generation=1)
    assert all(cal.is_workday(d) == chinese_calendar.is_workday(d) for d in _days(year, spill))


def test_the_years_in_numbers() -> None:
    # spot checks a reader can verify against the notices
    n2025 = parse_notice(NOTICES[2025])
    assert [d for d, name in n2025.holidays.items() if name == "春节"] == \
        [date(2025, 1, 28) + timedelta(days=i) for i in range(8)]
    assert sorted(n2025.workdays) == [date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28),
                                      date(2025, 10, 11)]
    assert n2025.holidays[date(2025, 10, 8)] == "国庆节、中秋节"
    n2019 = parse_notice(NOTICES[2019])  # the previous December's part, and the March 2019 change of 劳动节
    assert n2019.workdays[date(2018, 12, 29)] == "元旦" and date(2018, 12, 31) in n2019.holidays
    assert [d for d, n in n2019.holidays.items() if n == "劳动节"] == [date(2019, 5, d) for d in (1, 2, 3, 4)]
    n2020 = parse_notice(NOTICES[2020])  # extended to 2 February; the 1 February workday is gone
    assert date(2020, 2, 2) in n2020.holidays and date(2020, 2, 1) not in n2020.workdays
    n2024 = parse_notice(NOTICES[2024])  # 除夕 (2月9日) is only "encouraged" off: a working day
    assert date(2024, 2, 9) not in n2024.holidays


def test_full_and_half_width_punctuation_and_the_year_given() -> None:
    half = ("二、春节:1月28日(农历除夕、周二)至2月4日(农历正月初七、周二)放假调休,共8天。"
            "1月26日(周日)、2月8日(周六)上班。")
    full = ("二、春节：1月28日（农历除夕、周二）至2月4日（农历正月初七、周二）放假调休，共8天。"
            "1月26日（周日）、2月8日（周六）上班。")
    a, b = parse_notice(half, year=2025, complete=False), parse_notice(full, year=2025, complete=False)
    assert a.holidays == b.holidays and a.workdays == b.workdays and len(a.holidays) == 8
    assert looks_like_notice(full) and not looks_like_notice("year: 2027\nholidays: []\n")
    with pytest.raises(NoticeError, match="看不出年份"):
        parse_notice(full)
    with pytest.raises(NoticeError, match="缺少 元旦、清明节、劳动节、端午节、中秋节、国庆节 的放假安排"):
        parse_notice(full, year=2025)  # a paste cut short
    with pytest.raises(NoticeError, match="标题写的是 2025 年, 但指定了 --year 2026"):
        parse_notice("国务院办公厅关于2025年部分节假日安排的通知\n" + full, year=2026)


BAD = [
    # (line 2 of the text, the refusal's words)
    ("一、元旦：1月1日（周三）放假1天，不调休。1月2日（周四）上班。", "上班日 2025-01-02（周四）不是周末"),
    ("一、元旦：12月31日至1月2日放假调休，共3天。", "跨年了"),
    ("二、春节：1月28日至2月4日放假调休，共7天。", "写的是 共7天, 但 01月28日 至 02月04日 是 8 天"),
    ("三、清明节：4月4日（周四）至6日（周日）放假，共3天。", "2025-04-04 是周五, 通知写的是周四"),
    ("四、劳动节：5月5日至1日放假调休，共5天。", "结束 (2025-05-01) 早于开始"),
    ("五、端午节：2月30日放假。", "不是有效日期"),
    ("六、国庆节：10月1日至8日放假调休，共8天。2026年2月7日（周六）上班。", "2026-02-07 不在 2025 年内"),
    ("七、中秋节：中秋节期间安排另行通知。", "没有找到「放假」"),
    ("一、元旦：1月1日放假。\n二、春节：1月1日至2日放假，共2天。", "2025-01-01 已在第 2 行 (元旦) 出现过"),
]


@pytest.mark.parametrize("line,words", BAD)
def test_a_notice_that_does_not_add_up_is_refused_naming_the_line(line: str, words: str) -> None:
    text = "国务院办公厅关于2025年部分节假日安排的通知\n" + line + "\n"
    with pytest.raises(NoticeError) as e:
        parse_notice(text)
    message = str(e.value)
    assert words in message
    bad_line = len(line.split("\n")) + 1
    assert f"第 {bad_line} 行「" in message and line.split("\n")[-1][:20] in message


def test_a_reprint_in_traditional_characters() -> None:
    simplified = parse_notice(NOTICES[2025])
    text = NOTICES[2025].translate(str.maketrans("节劳动国庆调关于务办厅", "節勞動國慶調關於務辦廳"))
    assert "國務院辦公廳關於2025年部分節假日安排" in text and "國慶節" in text and "放假調休" in text
    traditional = parse_notice(text)
    assert "國" not in "".join(traditional.holidays.values())
    assert (traditional.year, traditional.holidays, traditional.workdays) == \
        (2025, simplified.holidays, simplified.workdays)


def test_nothing_recognisable_is_refused() -> None:
    with pytest.raises(NoticeError, match="没有读到任何放假安排"):
        parse_notice("国务院办公厅关于2027年部分节假日安排的通知\n（正文还没有发布）")
    with pytest.raises(NoticeError, match="为空"):
        parse_notice("  \n")


def test_imported_years_come_before_the_package_and_mark_the_fallback() -> None:
    cal = WorkCalendar()
    assert cal.is_covered(2026) and not cal.is_covered(2027)
    assert cal.on_fallback(datetime(2026, 12, 31, 16, tzinfo=CST), datetime(2027, 1, 1, 10, tzinfo=CST))
    assert not cal.on_fallback(datetime(2026, 12, 30, 16, tzinfo=CST), datetime(2026, 12, 31, 10, tzinfo=CST))
    assert cal.is_workday(date(2027, 1, 1))  # Friday on the fallback
    text = ("国务院办公厅关于2027年部分节假日安排的通知\n"
            "一、元旦：2026年12月31日至2027年1月3日放假调休，共4天。2027年1月9日（周六）上班。\n")
    cal.set_imported([parse_notice(text, complete=False).schedule()], generation=7)
    assert cal.generation == 7 and cal.is_covered(2027) and cal.source_of(2027)[0] == "import"
    assert not cal.is_workday(date(2027, 1, 1)) and cal.is_workday(date(2027, 1, 9))
    assert not cal.is_workday(date(2026, 12, 31))  # the notice's December day overrides the package
    assert cal.exceptions(2027) == ([date(2027, 1, 1)], [date(2027, 1, 9)])


def test_hostile_characters_in_a_pasted_notice_are_kept_inert() -> None:
    """NUL, a lone surrogate, markup and a formula after a valid notice: parsed, stored text storable."""
    from collector.calendar.service import parse_text

    parsed = parse_text(NOTICES[2026] + "\n备注\x00 <b>x</b> =1+1 \ud800")
    assert parsed.format == "notice" and parsed.schedule.year == 2026
    assert "\x00" not in parsed.text and "\ud800" not in parsed.text
    assert parsed.text.endswith("备注\ufffd <b>x</b> =1+1 \ufffd")
    parsed.text.encode("utf-8")  # what PostgreSQL refused before
