"""The report as a PDF document: cover, 本月概述, the sections, 签字确认; "第 N 页 共 M 页" on every
page; tables sized to their content; charts only where there are data."""
from __future__ import annotations

import io
import math
import re
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
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    KeepTogether,
    PageBreak,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from collector.reports import chartdata, condense, fonts, safe
from collector.reports.data import ReportData
from collector.reports.data import Table as DataTable
from collector.reports.linebreak import break_lines

CELL_SIZE = 7
CHUNK = 60  # rows per Table flowable: reportlab splits long tables in quadratic time
PAD = 3  # left and right cell padding (points)
SAMPLE = 300  # rows measured to size a table's columns
LONG_SHARE = 0.4  # of a too-wide table's width kept for its long text columns
LONG_MIN_SHARE = 0.2  # ... at least, when the short columns need more
HEADING_ROOM = 40 * mm  # a heading with less room than this below it starts a new page
PALETTE = [colors.HexColor(c) for c in ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                                        "#e377c2", "#17becf")]
WIDE = ("tickets", "disks", "visits", "systems", "checks")


def font() -> str:
    return fonts.report_font().name


def _styles(f: str) -> dict[str, ParagraphStyle]:
    return {
        "cover": ParagraphStyle("cv", fontName=f, fontSize=30, leading=40, alignment=1, spaceAfter=10),
        "cover2": ParagraphStyle("cv2", fontName=f, fontSize=18, leading=26, alignment=1, spaceAfter=24),
        "title": ParagraphStyle("t", fontName=f, fontSize=18, leading=24, spaceAfter=6),
        "h": ParagraphStyle("h", fontName=f, fontSize=13, leading=18, spaceBefore=8, spaceAfter=4, keepWithNext=1),
        "body": ParagraphStyle("b", fontName=f, fontSize=10.5, leading=17, wordWrap="CJK", firstLineIndent=21,
                               spaceAfter=4),
        "note": ParagraphStyle("n", fontName=f, fontSize=7.5, leading=10, textColor=colors.grey, spaceAfter=3,
                               wordWrap="CJK", keepWithNext=1),
        "cell": ParagraphStyle("c", fontName=f, fontSize=7, leading=9, wordWrap="CJK"),
        "head": ParagraphStyle("hd", fontName=f, fontSize=7, leading=9, wordWrap="CJK"),
        "kv": ParagraphStyle("kv", fontName=f, fontSize=13, leading=20, wordWrap="CJK"),
        "sign": ParagraphStyle("sg", fontName=f, fontSize=11, leading=18, wordWrap="CJK"),
    }


def render(data: ReportData) -> bytes:
    f = font()
    styles = _styles(f)
    out = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(out, pagesize=page, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=14 * mm,
                            bottomMargin=14 * mm, title=data.title, author="巡检 Xunjian")
    usable = page[0] - 24 * mm
    story: list[Any] = []
    if data.cover is not None:
        story += _cover(data, styles)
    else:
        story.append(safe.para(data.title, styles["title"]))
    if data.overview:
        story.append(safe.para("本月概述", styles["h"]))
        story += [safe.para(p, styles["body"]) for p in data.overview]
    month_end = data.month_days[1] if data.month_days else None
    for t in (condense.for_document(t, month_end) for t in data.tables):
        if t.key in WIDE and t.key != "systems" and len(t.rows) > 20:
            story.append(PageBreak())
        else:
            story.append(CondPageBreak(HEADING_ROOM))
        story.append(safe.para(t.title, styles["h"]))
        if t.note:
            story.append(safe.para(t.note, styles["note"]))
        story.extend(_tables(t, styles, usable))
        if t.key == "systems" and (bars := chartdata.availability(data)) is not None:
            story.append(Spacer(1, 4 * mm))
            story.append(KeepTogether([_availability_chart(bars, f, usable)]))
        if t.key == "disks" and (trend := chartdata.disk(data)) is not None:
            story.append(Spacer(1, 4 * mm))
            story.append(KeepTogether([_disk_chart(trend, f, usable)]))
    if data.cover is not None:
        story.append(_sign_off(data, styles, usable))

    footer_text = data.title

    class NumberedCanvas(Canvas):
        """Keeps every page until the end so each footer can say how many pages there are."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.saveState()
                self.setFont(f, 8)
                self.setFillColor(colors.grey)
                if self._pageNumber > 1:
                    self.drawString(12 * mm, 8 * mm, footer_text)
                self.drawRightString(page[0] - 12 * mm, 8 * mm, f"第 {self._pageNumber} 页 共 {total} 页")
                self.restoreState()
                super().showPage()
            super().save()

    doc.build(story, canvasmaker=NumberedCanvas)
    return out.getvalue()


def _blank(v: str, width: int = 24) -> str:
    """A value to print, or a line to write on by hand."""
    return v if v else "_" * width


def _cover(data: ReportData, styles: dict[str, ParagraphStyle]) -> list[Any]:
    c = data.cover
    assert c is not None
    table = Table([[safe.para(k, styles["kv"]), safe.para(_blank(v), styles["kv"])] for k, v in c.fields()],
                  colWidths=[32 * mm, 120 * mm], hAlign="CENTER")
    table.setStyle(TableStyle([("LINEBELOW", (1, 0), (1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                               ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))
    return [Spacer(1, 30 * mm), safe.para("系统服务月报", styles["cover"]),
            safe.para(f"{c.month_zh}（{c.unit}）", styles["cover2"]), Spacer(1, 10 * mm), table, PageBreak()]


def _sign_off(data: ReportData, styles: dict[str, ParagraphStyle], usable: float) -> Any:
    c = data.cover
    assert c is not None
    s = styles["sign"]
    def cell(v: str) -> Any:  # a Paragraph collapses spaces: the gaps to write the date in stay
        parts = str(v).split("\u3000")
        return safe.para_markup("&nbsp;&nbsp;&nbsp;".join(f"{{p{i}}}" for i in range(len(parts))), s,
                                **{f"p{i}": part for i, part in enumerate(parts)})

    cells = [[cell(left), cell(right)] for left, right in c.sign_off(blank="_" * 24)]
    table = Table(cells, colWidths=[usable / 2 - 10 * mm] * 2, rowHeights=[None, None, 16 * mm, 38 * mm, None],
                  hAlign="CENTER")
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE6F0")),
                               ("TOPPADDING", (0, 0), (-1, -1), 5), ("LEFTPADDING", (0, 0), (-1, -1), 8)]))
    note = safe.para(c.confirmation(), styles["body"])
    return KeepTogether([safe.para("签字确认", styles["h"]), note, Spacer(1, 3 * mm), table])


def _cell(v: Any, width: float) -> str:
    """Plain (pre-wrapped) strings: Paragraphs in every cell cost seconds on a 2,000-ticket month."""
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}"
    return wrap(str(v), width - 2 * PAD - 1)


_widths: dict[str, float] = {}


def _char_width(ch: str) -> float:
    w = _widths.get(ch)
    if w is None:
        w = _widths[ch] = pdfmetrics.stringWidth(ch, font(), CELL_SIZE)
    return w


def wrap(text: str, width: float) -> str:
    """Break `text` into lines no wider than `width` points (collector.reports.linebreak)."""
    return "\n".join(break_lines(text, width, _char_width))


def _line_width(v: Any) -> float:
    if v is None:
        return _char_width("—")
    t = f"{v:.2f}" if isinstance(v, float) else str(v)
    return max(sum(_char_width(ch) for ch in line) for line in t.split("\n"))


def _word_width(v: Any) -> float:
    """The widest whitespace-separated piece: a short value may break between words, never inside."""
    t = f"{v:.2f}" if isinstance(v, float) else ("—" if v is None else str(v))
    return max((sum(_char_width(ch) for ch in word) for word in t.split()), default=0.0)


def column_widths(t: DataTable, usable: float) -> list[float]:
    """Each column as wide as its content (headers on at most two lines, short values never broken
    inside a word). A table wider than the page keeps at least LONG_SHARE of it for its long text
    columns (descriptions), so rows stay a few lines high; the short columns shrink first, down to
    their widest word, and below that only when the long ones are down to LONG_MIN_SHARE."""
    em = _char_width("中")
    pad = 2 * PAD + 1
    head_min, nats, long, word_min = [], [], [], []
    for c, h in enumerate(t.headers):
        head = sum(_char_width(ch) for ch in h)
        sample = [row[c] for row in t.rows[:SAMPLE]]
        content = min(max((_line_width(v) for v in sample), default=0.0), usable * 0.35)
        head_min.append(max(math.ceil(head / 2) + em / 2, 2 * em))
        nats.append(max(head, content, head_min[-1]) + pad)
        long.append(content > 12 * em)
        word_min.append(max((_word_width(v) for v in sample), default=0.0))
    if sum(nats) <= usable:
        return nats
    mins = [max(hm, 4 * em if lg else wm) + pad for hm, lg, wm in zip(head_min, long, word_min)]
    short = [c for c in range(len(nats)) if not long[c]]
    longs = [c for c in range(len(nats)) if long[c]]
    long_nat = sum(nats[c] for c in longs)
    long_budget = max(usable - sum(nats[c] for c in short), min(usable * LONG_SHARE, long_nat)) if longs else 0.0
    if longs and sum(mins[c] for c in short) > usable - long_budget:  # short values first stay whole
        long_budget = max(usable - sum(mins[c] for c in short), min(usable * LONG_MIN_SHARE, long_nat))
    widths = _fit([nats[c] for c in short], [mins[c] for c in short], usable - long_budget)
    out = [0.0] * len(nats)
    for c, w in zip(short, widths):
        out[c] = w
    rest = usable - sum(widths)
    for c in longs:
        out[c] = max(mins[c], rest * nats[c] / long_nat) if long_nat else mins[c]
    scale = usable / sum(out)
    return [w * scale for w in out] if scale < 1 else out


def _fit(nats: list[float], mins: list[float], budget: float) -> list[float]:
    """Widths between their minimum and natural width that add up to `budget` (or to the minimums
    scaled down when even those do not fit)."""
    if not nats:
        return []
    if sum(nats) <= budget:
        return nats
    if sum(mins) >= budget:
        return [w * budget / sum(mins) for w in mins]
    k = (budget - sum(mins)) / (sum(nats) - sum(mins))
    return [lo + (n - lo) * k for lo, n in zip(mins, nats)]


_SIGNED = re.compile(r"^(?:[+-]?[\d,]+(?:\.\d+)?|—)$")  # "+2,160", "-20.00", "—" (a change, or none)


def _numeric(t: DataTable, c: int) -> bool:
    """Right-align a column of numbers (and of signed changes)."""
    values = [row[c] for row in t.rows[:SAMPLE] if row[c] is not None]
    return bool(values) and all((isinstance(v, (int, float)) and not isinstance(v, bool))
                                or (isinstance(v, str) and _SIGNED.match(v)) for v in values)


def _tables(t: DataTable, styles: dict[str, ParagraphStyle], usable: float) -> list[Any]:
    widths = column_widths(t, usable)
    head = [safe.para(h, styles["head"]) for h in t.headers]
    rows = t.rows or [["无"] + [""] * (len(t.headers) - 1)]
    commands: list[Any] = [
        ("FONT", (0, 0), (-1, -1), font(), CELL_SIZE, CELL_SIZE * 1.25), ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE6F0")), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), PAD), ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
    ]
    commands += [("ALIGN", (c, 1), (c, -1), "RIGHT") for c in range(len(t.headers)) if t.rows and _numeric(t, c)]
    style = TableStyle(commands)
    out = []
    for i in range(0, len(rows), CHUNK):
        body = [[_cell(v, w) for v, w in zip(row, widths)] for row in rows[i:i + CHUNK]]
        tbl = Table([head, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
        tbl.setStyle(style)
        out.append(tbl)
    return out


def _availability_chart(c: chartdata.AvailabilityChart, f: str, usable: float) -> Drawing:
    d = Drawing(usable, 170)
    d.add(String(0, 158, c.title, fontName=f, fontSize=10))
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 20, min(usable * 0.55, 110 * len(c.bars)), 120
    chart.data = [[a for _, a, _ in c.bars], [w if w is not None else c.floor for _, _, w in c.bars]]
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = c.floor, 100
    chart.valueAxis.valueStep = c.step
    chart.valueAxis.labels.fontName = f
    chart.categoryAxis.categoryNames = [n for n, _, _ in c.bars]
    chart.categoryAxis.labels.fontName = f
    chart.categoryAxis.labels.fontSize = 8
    chart.barLabelFormat = "%.2f"
    chart.barLabels.fontName, chart.barLabels.fontSize, chart.barLabels.nudge = f, 6.5, 6
    chart.bars[0].fillColor, chart.bars[1].fillColor = PALETTE[0], PALETTE[2]
    d.add(chart)
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize = chart.x + chart.width + 30, 120, f, 8
    legend.colorNamePairs = list(zip((PALETTE[0], PALETTE[2]), chartdata.AVAILABILITY_LEGEND))
    d.add(legend)
    return d


def _disk_chart(c: chartdata.DiskChart, f: str, usable: float) -> Drawing:
    d = Drawing(usable, 210)
    d.add(String(0, 198, c.title, fontName=f, fontSize=10))
    plot = LinePlot()
    plot.x, plot.y, plot.width, plot.height = 40, 38, usable * 0.6, 142
    plot.data = [[(c.day(day), v) for day, v in s.points] for s in c.series]
    for i in range(len(plot.data)):
        plot.lines[i].strokeColor = PALETTE[i % len(PALETTE)]
        plot.lines[i].strokeWidth = 1.2
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 1, c.days
    plot.xValueAxis.valueSteps = c.day_ticks
    plot.xValueAxis.labelTextFormat = "%d"
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax, plot.yValueAxis.valueStep = 0, 100, 20
    plot.yValueAxis.labelTextFormat = "%d%%"
    plot.xValueAxis.labels.fontName = plot.yValueAxis.labels.fontName = f
    d.add(plot)
    d.add(String(40 + usable * 0.3, 6, c.axis_title, fontName=f, fontSize=8, textAnchor="middle"))
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize = usable * 0.68, 185, f, 7
    legend.colorNamePairs = [(PALETTE[i % len(PALETTE)], c.legend(s)) for i, s in enumerate(c.series)]
    d.add(legend)
    return d
