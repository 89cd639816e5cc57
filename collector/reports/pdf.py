"""PDF with a CJK font (collector.reports.fonts) and reportlab charts. Text from data goes through
collector.reports.safe.para: never markup."""
from __future__ import annotations

import io
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from collector.reports import fonts, safe
from collector.reports.data import ReportData
from collector.reports.data import Table as DataTable

CELL_SIZE = 7
CHUNK = 60  # rows per Table flowable: reportlab splits long tables in quadratic time
PALETTE = [colors.HexColor(c) for c in ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                                        "#e377c2", "#17becf")]
WIDE = ("tickets", "disks", "visits", "systems", "checks")


def font() -> str:
    return fonts.report_font().name


def render(data: ReportData) -> bytes:
    f = font()
    styles = {
        "title": ParagraphStyle("t", fontName=f, fontSize=18, leading=24, spaceAfter=6),
        "h": ParagraphStyle("h", fontName=f, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4),
        "note": ParagraphStyle("n", fontName=f, fontSize=7.5, leading=10, textColor=colors.grey, spaceAfter=3),
        "cell": ParagraphStyle("c", fontName=f, fontSize=7, leading=9, wordWrap="CJK"),
        "head": ParagraphStyle("hd", fontName=f, fontSize=7, leading=9, wordWrap="CJK"),
    }
    out = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(out, pagesize=page, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=data.title, author="巡检 Xunjian")
    usable = page[0] - 24 * mm
    story: list[Any] = [safe.para(data.title, styles["title"]),
                        safe.para(f"生成时间 {data.generated_at}", styles["note"])]
    for t in data.tables:
        if t.key in WIDE and t.key != "systems" and len(t.rows) > 20:
            story.append(PageBreak())
        story.append(safe.para(t.title, styles["h"]))
        if t.note:
            story.append(safe.para(t.note, styles["note"]))
        story.extend(_tables(t, styles, usable))
        if t.key == "systems":
            story.append(Spacer(1, 4 * mm))
            story.append(KeepTogether([_availability_chart(data, f, usable)]))
        if t.key == "disks" and data.disk_chart:
            story.append(Spacer(1, 4 * mm))
            story.append(KeepTogether([_disk_chart(data, f, usable)]))

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(f, 8)
        canvas.drawString(12 * mm, 8 * mm, data.title)
        canvas.drawRightString(page[0] - 12 * mm, 8 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _cell(v: Any, width: float) -> str:
    """Plain (pre-wrapped) strings: Paragraphs in every cell cost seconds on a 2,000-ticket month."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}"
    return wrap(str(v), width - 5)


_widths: dict[str, float] = {}


def _char_width(ch: str) -> float:
    w = _widths.get(ch)
    if w is None:
        w = _widths[ch] = pdfmetrics.stringWidth(ch, font(), CELL_SIZE)
    return w


def wrap(text: str, width: float) -> str:
    """Break `text` into lines no wider than `width` points (CJK may break anywhere; Latin words
    are kept whole when they fit on a line of their own)."""
    lines: list[str] = []
    for para in text.split("\n"):
        line, used, last_space = [], 0.0, -1
        for ch in para:
            w = _char_width(ch)
            if used + w > width and line:
                if ch != " " and last_space > 0 and ord(ch) < 0x2E80:  # Latin word: move it down whole
                    rest = line[last_space + 1:]
                    lines.append("".join(line[:last_space]))
                    line, used = rest, sum(_char_width(c) for c in rest)
                else:
                    lines.append("".join(line))
                    line, used = [], 0.0
                last_space = -1
                if ch == " " and not line:
                    continue
            if ch == " ":
                last_space = len(line)
            line.append(ch)
            used += w
        lines.append("".join(line))
    return "\n".join(lines)


def _tables(t: DataTable, styles: dict[str, ParagraphStyle], usable: float) -> list[Any]:
    total = sum(t.widths)
    widths = [usable * w / total for w in t.widths] if total > 80 else [w * 2.6 * mm for w in t.widths]
    head = [safe.para(h, styles["head"]) for h in t.headers]
    rows = t.rows or [["无"] + [""] * (len(t.headers) - 1)]
    style = TableStyle([
        ("FONT", (0, 0), (-1, -1), font(), CELL_SIZE, CELL_SIZE * 1.25), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE6F0")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ])
    out = []
    for i in range(0, len(rows), CHUNK):
        body = [[_cell(v, w) for v, w in zip(row, widths)] for row in rows[i:i + CHUNK]]
        tbl = Table([head, *body], colWidths=widths, repeatRows=1)
        tbl.setStyle(style)
        out.append(tbl)
    return out


def _availability_chart(data: ReportData, f: str, usable: float) -> Drawing:
    d = Drawing(usable, 150)
    d.add(String(0, 138, "各系统可用率 (%)", fontName=f, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 20, usable * 0.55, 105
    chart.data = [[v for _, v, _ in data.availability_chart], [w for _, _, w in data.availability_chart]]
    lows = [v for _, a, b in data.availability_chart for v in (a, b) if v is not None]
    chart.valueAxis.valueMin = max(0, int(min(lows, default=90)) - 1) if lows else 0
    chart.valueAxis.valueMax = 100
    chart.valueAxis.labels.fontName = f
    chart.categoryAxis.categoryNames = [n for n, _, _ in data.availability_chart]
    chart.categoryAxis.labels.fontName = f
    chart.categoryAxis.labels.fontSize = 8
    chart.bars[0].fillColor, chart.bars[1].fillColor = PALETTE[0], PALETTE[2]
    d.add(chart)
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize = usable * 0.62, 100, f, 8
    legend.colorNamePairs = [(PALETTE[0], "全月"), (PALETTE[2], "服务时间")]
    d.add(legend)
    return d


def _disk_chart(data: ReportData, f: str, usable: float) -> Drawing:
    d = Drawing(usable, 190)
    d.add(String(0, 178, "空间使用率趋势 (使用率最高的挂载点, %)", fontName=f, fontSize=10))
    first = min(p[0] for s in data.disk_chart for p in s.points)
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 40, 25, usable * 0.6, 140
    plot.data = [[((day - first).days + 1, v) for day, v in s.points] for s in data.disk_chart]
    for i in range(len(plot.data)):
        plot.lines[i].strokeColor = PALETTE[i % len(PALETTE)]
        plot.lines[i].strokeWidth = 1.2
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax = 0, 100
    plot.xValueAxis.labels.fontName = plot.yValueAxis.labels.fontName = f
    d.add(plot)
    d.add(String(40 + usable * 0.3, 5, "日", fontName=f, fontSize=8))
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize = usable * 0.68, 170, f, 7
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], s.label) for i, s in enumerate(data.disk_chart)]
    d.add(legend)
    return d
