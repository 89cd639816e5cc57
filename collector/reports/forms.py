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
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle
from sqlalchemy.orm import Session

from checks.model import SYSTEM_LABELS_ZH
from collector.reports import safe
from collector.reports.pdf import font
from collector.tickets.models import Ticket
from collector.timefmt import month_range

MANUAL_CHANNELS = (("phone", "电话"), ("email", "邮件"), ("onsite", "现场"), ("remote", "远程"))
SATISFACTION = ("满意", "基本满意", "不满意")
TALL = 55 * mm  # 问题描述 / 解决描述 boxes, as on the printed form


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
    for i, t in enumerate(tickets):
        if i:
            story.append(PageBreak())
        story += [safe.para("系统服务单", s["h"]), safe.para(f"编号: {t.number}", s["no"]),
                  _form(t, s, width, tz)]
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


def _form(t: Ticket, s: dict[str, ParagraphStyle], width: float, tz: Any) -> Table:
    def th(v: str) -> Paragraph:
        return safe.para(v, s["th"])

    def td(v: Any) -> Paragraph:
        return safe.para(v, s["td"])

    def when(dt: datetime | None) -> str:
        return "" if dt is None else dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    boxes = [f"{'■' if t.channel == c else '□'} {zh}" for c, zh in MANUAL_CHANNELS]
    boxes.append(f"{'■' if t.channel == 'auto' else '□'} 自动巡检")
    if t.urgent:
        boxes.append("■ 紧急")
    sat = "　".join(f"{'■' if t.satisfaction == v else '□'} {v}" for v in SATISFACTION)
    if t.satisfaction_comment:
        sat += "\n" + t.satisfaction_comment
    system = SYSTEM_LABELS_ZH.get(t.system, t.system) + (f" ({t.host})" if t.host else "")
    rows = [[th("工程师姓名"), td(t.engineer_name), th("工程师编号"), td(t.engineer_number)],
            [th("客户姓名"), td(t.customer_name), th("客户单位"), td(t.customer_unit)],
            [th("客户房间号"), td(t.room), th("系统"), td(system)],
            [th("热线时间"), td(when(t.reported_at)), th("解决问题时间"), td(when(t.resolved_at))],
            [th("受理方式"), td("　".join(boxes)), "", ""],
            [th("问题描述"), td(t.description), "", ""],
            [th("解决描述"), td(t.resolution), "", ""],
            [th("客户满意度"), td(sat), "", ""],
            [th("工程师签字"), td("\n\n日期:"), th("客户签字"), td("\n\n日期:")]]
    label = 28 * mm
    wide = width - label - 12  # the spanned cell, less its padding

    def box(p: Paragraph) -> float | None:  # the printed box's height, or taller for a long text
        return TALL if p.wrap(wide, 10_000)[1] + 10 <= TALL else None

    table = Table(rows, colWidths=[label, width / 2 - label, label, width / 2 - label],
                  rowHeights=[None] * 5 + [box(rows[5][1]), box(rows[6][1]), None, 24 * mm])
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F2F2")),
        ("BACKGROUND", (2, 0), (2, 3), colors.HexColor("#F2F2F2")),
        ("BACKGROUND", (2, 8), (2, 8), colors.HexColor("#F2F2F2")),
        *[("SPAN", (1, r), (3, r)) for r in range(4, 8)],
        ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]))
    return table
