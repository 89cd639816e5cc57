"""The report as data: titled tables (one per sheet/section), summary figures and chart series.
Renderers (xlsx, pdf, html) only lay this out."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass
class Table:
    key: str          # stable id: summary, systems, checks, agents, disks, ticket_stats, tickets, staff, ...
    title: str        # zh-CN section / sheet title
    headers: list[str]
    rows: list[list[Any]]
    widths: list[float]  # relative column widths (characters, as in Excel)
    note: str = ""


@dataclass
class DiskSeries:
    label: str  # "host:/mount"
    points: list[tuple[date, float]]  # (day, used % at the end of the day)


@dataclass
class Cover:
    """What the cover and the sign-off name: who serves whom, under which contract, for which month."""

    unit: str          # 客户单位 ('全部单位' for the overall report)
    month_zh: str      # 2026年9月
    period: str        # 2026-09-01 至 2026-09-30
    provider: str      # 服务单位 (collector setting report.provider)
    contract_number: str
    issued: str        # date of issue, YYYY-MM-DD

    def fields(self) -> list[tuple[str, str]]:
        return [("客户单位", self.unit), ("报告期间", self.period), ("服务单位", self.provider),
                ("合同编号", self.contract_number), ("出具日期", self.issued)]

    def confirmation(self) -> str:
        return f"以上为{self.month_zh}{self.unit}系统服务情况，双方确认无误。"

    def sign_off(self, blank: str = "") -> list[tuple[str, str]]:
        """签字确认 rows (service provider, customer); `blank` stands for a name not configured."""
        date_line = "日期：　　　　年　　月　　日"
        return [("服务单位", "用户单位"), (f"单位名称：{self.provider or blank}", f"单位名称：{self.unit or blank}"),
                ("负责人签字：", "负责人签字："), ("（盖章）", "（盖章）"), (date_line, date_line)]


@dataclass
class ReportData:
    month: str
    unit: str  # '' = every unit
    title: str
    generated_at: str
    figures: dict[str, Any]
    tables: list[Table]
    disk_chart: list[DiskSeries] = field(default_factory=list)
    availability_chart: list[tuple[str, float | None, float | None]] = field(default_factory=list)
    cover: Cover | None = None
    overview: list[str] = field(default_factory=list)  # 本月概述: short paragraphs written from the figures
    month_days: tuple[date, date] | None = None  # first and last day of the month (chart axes)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)
