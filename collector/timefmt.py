"""Times leave the API as ISO 8601 with their UTC offset, in the service's time zone."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone, tzinfo
from functools import lru_cache
from typing import Annotated, Any, Optional, TypeVar, Union
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ValidationInfo


@lru_cache(maxsize=8)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def iso(dt: Optional[datetime], tz: str = "Asia/Shanghai") -> Optional[str]:
    return None if dt is None else dt.astimezone(zone(tz)).isoformat()


def _local(value: Any, info: ValidationInfo) -> Any:
    return iso(value, (info.context or {}).get("tz", "Asia/Shanghai")) if isinstance(value, datetime) else value


# An API model's time: a datetime read from a row leaves as `iso` in the zone of the validation context's "tz".
LocalTime = Annotated[Optional[str], BeforeValidator(_local)]
Shape = TypeVar("Shape", bound="FromRow")


class FromRow(BaseModel):
    """An API model read from an ORM row: `HostOut.of(row, tz)`, its LocalTime fields in the time zone `tz`."""

    @classmethod
    def of(cls: type[Shape], row: Any, tz: str) -> Shape:
        return cls.model_validate(row, from_attributes=True, context={"tz": tz})


def text_time(dt: Optional[datetime], tz: Union[str, tzinfo] = "Asia/Shanghai") -> str:
    """A time written into a text (ticket description, timeline note): local, to the minute."""
    if dt is None:
        return "-"
    return dt.astimezone(zone(tz) if isinstance(tz, str) else tz).strftime("%Y-%m-%d %H:%M")


_PLUS_LOST = re.compile(r"^(.*T[\d:.]+) (\d\d:?\d\d)$")


def parse_iso(text: str) -> datetime:
    value = text.strip()
    m = _PLUS_LOST.match(value)  # '+08:00' in an unencoded query string arrives as ' 08:00'
    if m:
        value = f"{m.group(1)}+{m.group(2)}"
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"time {text!r} needs a UTC offset, e.g. 2026-11-25T10:00:00+08:00")
    try:  # stored and compared in UTC: 9999-12-31T23:59:59-23:59 has no UTC time
        dt.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"time {text!r} is out of range") from None
    return dt


_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_range(month: str) -> tuple[date, date]:
    """[first day, first day of the next month) of 'YYYY-MM'."""
    m = _MONTH.match(month or "")
    if not m:
        raise ValueError(f"月份格式应为 YYYY-MM: {month!r}")
    if not 2000 <= int(m[1]) <= 2099:  # local-time arithmetic near year 1 overflows; no service is that old
        raise ValueError(f"月份超出范围 (2000-01 至 2099-12): {month!r}")
    start = date(int(m[1]), int(m[2]), 1)
    return start, next_month(start)


def next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)
