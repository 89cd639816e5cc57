"""The handover package: every 系统服务单 of a month (by call time, 热线时间) as one PDF, one form per
A4 page, in the layout of the console's print page (collector/console/templates/ticket_print.html);
■ / □ for the ticked boxes (GB 2312 characters: in every CJK font, unlike ☑ / ☐)."""
from __future__ import annotations

import io
from datetime import datetime, time
from typing import Any

import sqlalchemy as sa
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle
from sqlalchemy.orm import Session

from checks.model import SYSTEM_LABELS_ZH
from collector.reports import safe
from collector.reports.linebreak import break_lines
from collector.reports.pdf import font
from collector.tickets.models import Ticket
from collector.tickets.satisfaction import RATINGS
from collector.timefmt import month_range

MANUAL_CHANNELS = (("phone", "电话"), ("email", "邮件"), ("onsite", "现场"), ("remote", "远程"))
TALL = 55 * mm  # 问题描述 / 解决描述 boxes, as on the printed form
SIGN = 24 * mm  # the signature row
LABEL = 28 * mm  # label column
SIZE, LEADING = 10.5, 15  # cell text
PAD_V, PAD_H = 5, 6  # cell padding (reportlab's default left/right padding is 6)
HEAD = 28 + 4 + 14 + 6  # the heading and the number line above the table, with their spacing
SHADE = colors.HexColor("#F2F2F2")
SHORT = 40  # texts up to this long are broken into lines once per document


def tickets_of(db: Session, *, month: str, unit: str, tz: Any) -> list[Ticket]:
    """The month's tickets by call time (热线时间, `reported_at`) in the service's zone, as the report counts."""
    first, after = month_range(month)
    q = sa.select(Ticket).where(Ticket.reported_at >= datetime.combine(first, time(0), tz),
                                Ticket.reported_at < datetime.combine(after, time(0), tz))
    if unit:
        q = q.where(Ticket.customer_unit == unit)
    return list(db.scalars(q.order_by(Ticket.reported_at, Ticket.id)))


def render(tickets: list[Ticket], *, tz: Any, title: str) -> bytes:
    f = font()
    s = {"h": ParagraphStyle("h", fontName=f, fontSize=20, leading=28, alignment=1, spaceAfter=4),
         "no": ParagraphStyle("no", fontName=f, fontSize=10, leading=14, alignment=2, spaceAfter=6),
         "th": ParagraphStyle("th", fontName=f, fontSize=10.5, leading=15),
         "td": ParagraphStyle("td", fontName=f, fontSize=10.5, leading=15, wordWrap="CJK")}
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                            bottomMargin=16 * mm, title=title, author="巡检 Xunjian")
    width = A4[0] - 36 * mm
    story: list[Any] = []
    widths = Widths(f)
    for i, t in enumerate(tickets):
        if i:
            story.append(PageBreak())
        cells = _cells(t, tz)
        page = FormPage(t.number, cells, width, widths)
        if page.fits(doc.height - 12):  # (the frame's padding) drawn on the canvas: ~5x cheaper than a Table
            story.append(page)
        else:  # a text longer than a page: the table, whose rows platypus lays out
            story += [safe.para("系统服务单", s["h"]), safe.para(f"编号: {t.number}", s["no"]),
                      _form(cells, s, width)]
    if not tickets:
        story.append(safe.para("本月没有系统服务单。", s["td"]))

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(f, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(18 * mm, 9 * mm, title)
        canvas.drawRightString(A4[0] - 18 * mm, 9 * mm, f"第 {doc.page} 张")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _cells(t: Ticket, tz: Any) -> list[list[str]]:
    """The form's rows of texts: label, value (, label, value); a row of two cells spans the width."""
    def when(dt: datetime | None) -> str:
        return "" if dt is None else dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    boxes = [f"{'■' if t.channel == c else '□'} {zh}" for c, zh in MANUAL_CHANNELS]
    boxes.append(f"{'■' if t.channel == 'auto' else '□'} 自动巡检")
    if t.urgent:
        boxes.append("■ 紧急")
    sat = "　".join(f"{'■' if t.satisfaction == v else '□'} {v}" for v in RATINGS)
    if t.satisfaction_comment:
        sat += "\n" + t.satisfaction_comment
    system = SYSTEM_LABELS_ZH.get(t.system, t.system) + (f" ({t.host})" if t.host else "")
    return [["工程师姓名", t.engineer_name, "工程师编号", t.engineer_number],
            ["客户姓名", t.customer_name, "客户单位", t.customer_unit],
            ["客户房间号", t.room, "系统", system],
            ["热线时间", when(t.reported_at), "解决问题时间", when(t.resolved_at)],
            ["受理方式", "　".join(boxes)],
            ["问题描述", t.description],
            ["解决描述", t.resolution],
            ["客户满意度", sat],
            ["工程师签字", "\n\n日期:", "客户签字", "\n\n日期:"]]


def _form(cells: list[list[str]], s: dict[str, ParagraphStyle], width: float) -> Table:
    def th(v: str) -> Paragraph:
        return safe.para(v, s["th"])

    def td(v: Any) -> Paragraph:
        return safe.para(v, s["td"])

    rows: list[list[Any]] = [[th(r[0]), td(r[1]), th(r[2]), td(r[3])] if len(r) == 4 else [th(r[0]), td(r[1]), "", ""]
                             for r in cells]
    label = LABEL
    wide = width - label - 12  # the spanned cell, less its padding

    def box(p: Paragraph) -> float | None:  # the printed box's height, or taller for a long text
        return TALL if p.wrap(wide, 10_000)[1] + 10 <= TALL else None

    table = Table(rows, colWidths=[label, width / 2 - label, label, width / 2 - label],
                  rowHeights=[None] * 5 + [box(rows[5][1]), box(rows[6][1]), None, SIGN])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), SHADE), ("BACKGROUND", (2, 0), (2, 3), SHADE),
        ("BACKGROUND", (2, 8), (2, 8), SHADE),
        *[("SPAN", (1, r), (3, r)) for r in range(4, 8)],
        ("TOPPADDING", (0, 0), (-1, -1), PAD_V), ("BOTTOMPADDING", (0, 0), (-1, -1), PAD_V),
    ]))
    return table


class Widths:
    """Character widths of one font at 1 pt, measured once each (reportlab measures a CID font's
    string char by char in Python: the cost of a 2,000-form month)."""

    def __init__(self, font_name: str) -> None:
        self.font = font_name
        self.cache: dict[str, float] = {}
        self.short: dict[tuple[str, float, float], list[str]] = {}

    def of(self, ch: str) -> float:
        w = self.cache.get(ch)
        if w is None:
            w = self.cache[ch] = pdfmetrics.stringWidth(ch, self.font, 1000) / 1000
        return w

    def lines(self, text: str, size: float, width: float) -> list[str]:
        """`text` broken into lines no wider than `width` at `size` (CJK anywhere; a Latin word moves
        down whole when it fits on a line of its own), as the table's CJK paragraphs do. Short texts
        (labels, names, times, the ticked boxes) repeat from form to form: kept once broken."""
        if len(text) > SHORT:
            return self._lines(text, size, width)
        key = (text, size, width)
        hit = self.short.get(key)
        if hit is None:
            hit = self.short[key] = self._lines(text, size, width)
        return hit

    def _lines(self, text: str, size: float, width: float) -> list[str]:
        return break_lines(text, width / size, self.of)


class FormPage(Flowable):
    """One 系统服务单 drawn with the canvas: the table's grid, shading, padding and text positions,
    without a Paragraph (markup parser) or a Table per form. Text is drawn as it is: never markup."""

    def __init__(self, number: str, cells: list[list[str]], width: float, widths: Widths) -> None:
        super().__init__()
        self.hAlign = "CENTER"  # as the table was
        self.number, self.cells, self.width, self.widths = number, cells, width, widths
        half, inner = width / 2 - LABEL, width - LABEL
        self.rows: list[tuple[float, list[tuple[float, float, list[str], bool]]]] = []  # (height, cells)
        for r, row in enumerate(cells):
            spans = ([(0, LABEL), (LABEL, half), (LABEL + half, LABEL), (2 * LABEL + half, half)] if len(row) == 4
                     else [(0, LABEL), (LABEL, inner)])
            laid = [(x, w, widths.lines(v or "", SIZE, w - 2 * PAD_H), c % 2 == 0)
                    for c, ((x, w), v) in enumerate(zip(spans, row))]
            h = max(len(lines) for _, _, lines, _ in laid) * LEADING + 2 * PAD_V
            if r in (5, 6):
                h = max(h, TALL)
            elif r == 8:
                h = max(h, SIGN)
            self.rows.append((h, laid))
        self.table_height = sum(h for h, _ in self.rows)
        self.height = HEAD + self.table_height

    def fits(self, frame_height: float) -> bool:
        return self.height <= frame_height

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c, f = self.canv, self.widths.font
        top = self.height
        c.setFont(f, 20)
        c.drawCentredString(self.width / 2, top - 20, "系统服务单")  # as the 20/28 heading and its spacing
        c.setFont(f, 10)
        c.drawRightString(self.width, top - 32 - 10, f"编号: {self.number}")
        y = self.table_height
        c.setFillColor(SHADE)
        for r, (h, laid) in enumerate(self.rows):
            for x, w, _, is_label in laid:
                if is_label and (x == 0 or r in (0, 1, 2, 3, 8)):
                    c.rect(x, y - h, w, h, stroke=0, fill=1)
            y -= h
        c.setFillColor(colors.black)
        c.setStrokeColor(colors.black)
        c.setLineWidth(0.6)
        text = c.beginText()
        text.setFont(f, SIZE, LEADING)
        y = self.table_height
        for h, laid in self.rows:
            for x, w, lines, _ in laid:
                c.rect(x, y - h, w, h, stroke=1, fill=0)
                base = y - PAD_V - SIZE
                for i, line in enumerate(lines):
                    if line:
                        text.setTextOrigin(x + PAD_H, base - i * LEADING)
                        text.textOut(line)
            y -= h
        c.drawText(text)
