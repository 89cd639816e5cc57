"""HTML view of the report (jinja2), with a small inline SVG chart of disk usage."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from collector.reports.data import ReportData

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@lru_cache(maxsize=1)
def env() -> Environment:
    e = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                    autoescape=select_autoescape(["html", "j2"]))
    e.filters["cell"] = _cell
    return e


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def disk_svg(data: ReportData, width: int = 720, height: int = 240) -> list[dict[str, Any]]:
    """Polylines (points already scaled) for the template."""
    if not data.disk_chart:
        return []
    first = min(p[0] for s in data.disk_chart for p in s.points)
    last = max(p[0] for s in data.disk_chart for p in s.points)
    span = max((last - first).days, 1)
    lines = []
    for i, s in enumerate(data.disk_chart):
        pts = " ".join(f"{40 + (day - first).days / span * (width - 60):.1f},"
                       f"{height - 20 - v / 100 * (height - 40):.1f}" for day, v in s.points)
        lines.append({"label": s.label, "points": pts, "color": PALETTE[i % len(PALETTE)]})
    return lines


def render(data: ReportData) -> str:
    return env().get_template("monthly.html.j2").render(report=data, disk_lines=disk_svg(data))
