"""What the report's charts show, decided once for every renderer (the PDF's reportlab drawings and
the DOCX's PNG pictures): which series, the axes' ranges and ticks, the titles. None = no chart."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from collector.reports.data import DiskSeries, ReportData

AVAILABILITY_LEGEND = ("全月", "服务时间 (合同工作时间)")


@dataclass(frozen=True)
class AvailabilityChart:
    bars: list[tuple[str, float, float | None]]  # (system, month %, service-time %), systems with data only
    floor: int  # the value axis runs floor..100
    step: int

    @property
    def title(self) -> str:
        return f"各系统可用率 (%, 纵轴自 {self.floor}% 起)"

    @property
    def ticks(self) -> list[int]:
        return list(range(self.floor, 101, self.step))


@dataclass(frozen=True)
class DiskChart:
    series: list[DiskSeries]  # mounts with at least two days
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def day(self, d: date) -> int:
        """1 for the month's first day."""
        return (d - self.first).days + 1

    @property
    def day_ticks(self) -> list[int]:
        return sorted({1, *range(5, self.days + 1, 5), self.days})

    @property
    def title(self) -> str:
        return f"空间使用率趋势 (使用率最高的 {len(self.series)} 个挂载点, 每日日终使用率 %)"

    @property
    def axis_title(self) -> str:
        return f"日期 ({self.first.month} 月 1 日 至 {self.last.day} 日)"

    @staticmethod
    def legend(s: DiskSeries) -> str:
        return f"{s.label} (月末 {s.points[-1][1]:.1f}%)"


def availability(data: ReportData) -> AvailabilityChart | None:
    """Bars of the systems with data; the axis starts at 0, or at a round floor (never above 90 %) that
    still shows the lowest bar."""
    bars = [(n, a, w) for n, a, w in data.availability_chart if a is not None]
    if not bars:
        return None
    lows = [v for _, a, w in bars for v in (a, w) if v is not None]
    floor = min(90, int(min(lows) // 5) * 5)
    floor = 0 if floor < 50 else floor
    return AvailabilityChart(bars, floor, 2 if floor >= 90 else (10 if floor >= 50 else 20))


def disk(data: ReportData) -> DiskChart | None:
    """Used % at the end of each day, per mount, over the days of the month (0-100 %)."""
    series = [s for s in data.disk_chart if len(s.points) >= 2]
    if not series:
        return None
    first, last = data.month_days or (min(p[0] for s in series for p in s.points),
                                      max(p[0] for s in series for p in s.points))
    return DiskChart(series, first, last)
