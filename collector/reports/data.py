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
class ReportData:
    month: str
    unit: str  # '' = every unit
    title: str
    generated_at: str
    figures: dict[str, Any]
    tables: list[Table]
    disk_chart: list[DiskSeries] = field(default_factory=list)
    availability_chart: list[tuple[str, float | None, float | None]] = field(default_factory=list)

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)
