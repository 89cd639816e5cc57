"""XLSX: one sheet per table, ready to print (A4, header row repeated, widths, frozen header)."""
from __future__ import annotations

import io
from copy import copy

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from collector.reports.data import ReportData, Table
from collector.reports.safe import header_footer, inert_workbook

HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
SHEET_MAX = 31  # Excel's limit on sheet names


def render(data: ReportData) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    if data.cover is not None:
        _cover(wb.create_sheet("封面与概述"), data)
    for table in data.tables:
        ws = wb.create_sheet(table.title[:SHEET_MAX])
        _sheet(ws, data, table)
    if data.disk_chart:
        _disk_chart(wb, data)
    wb.properties.title = data.title
    wb.properties.creator = "巡检 Xunjian"
    inert_workbook(wb)  # data strings such as '=HYPERLINK(...)' stay text
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _sheet(ws: Worksheet, data: ReportData, table: Table) -> None:
    ncol = len(table.headers)
    ws.cell(1, 1, f"{data.title} · {table.title}").font = Font(bold=True, size=13)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(ncol, 1))
    first = 2
    if table.note:
        ws.cell(2, 1, table.note).font = Font(size=9, italic=True)
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=max(ncol, 1))
        first = 3
    for c, h in enumerate(table.headers, 1):
        cell = ws.cell(first, c, h)
        cell.font, cell.fill, cell.border = Font(bold=True), HEADER_FILL, BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    # Style the first body cell the normal way, then copy its style array to the others: openpyxl's
    # per-cell style setters hash every style object and dominate the time on 2,000-ticket months.
    for row in table.rows:
        ws.append([_clean(v) for v in row])
    if table.rows:
        model = ws.cell(first + 1, 1)
        model.border, model.alignment = BORDER, WRAP
        style = model._style
        for row in ws.iter_rows(min_row=first + 1, max_row=first + len(table.rows), max_col=ncol):
            for cell in row:
                cell._style = copy(style)
    for c, w in enumerate(table.widths, 1):
        ws.column_dimensions[get_column_letter(c)].width = w
    ws.freeze_panes = ws.cell(first + 1, 1)
    ws.print_title_rows = f"{first}:{first}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if sum(table.widths) > 110 else "portrait"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"
    ws.oddHeader.center.text = header_footer(data.title)


def _clean(v: object) -> object:
    """Control characters (a pasted log line in a ticket) cannot be stored in a worksheet: dropped."""
    return ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v


def _cover(ws: Worksheet, data: ReportData) -> None:
    """Cover, 本月概述 and 签字确认 on one printable sheet."""
    c = data.cover
    assert c is not None
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 14, 56
    ws.column_dimensions["C"].width, ws.column_dimensions["D"].width = 14, 56
    ws.cell(1, 1, "系统服务月报").font = Font(bold=True, size=20)
    ws.cell(2, 1, f"{c.month_zh}（{c.unit}）").font = Font(size=14)
    r = 4
    for k, v in c.fields():
        ws.cell(r, 1, k).font = Font(bold=True)
        ws.cell(r, 2, _clean(v))
        ws.cell(r, 2).border = Border(bottom=THIN)
        r += 1
    r += 1
    ws.cell(r, 1, "本月概述").font = Font(bold=True, size=13)
    for text in data.overview:
        r += 1
        ws.cell(r, 1, _clean(text)).alignment = WRAP
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=4)
        ws.row_dimensions[r].height = 15 * (len(text) // 70 + 1)
    r += 2
    ws.cell(r, 1, "签字确认").font = Font(bold=True, size=13)
    for left, right in c.sign_off():
        r += 1
        for col, value in ((1, left), (3, right)):
            ws.cell(r, col, _clean(value)).border = BORDER
            ws.merge_cells(start_row=r, start_column=col, end_row=r, end_column=col + 1)
        if left == "（盖章）":
            ws.row_dimensions[r].height = 90
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.oddFooter.center.text = "第 &P 页 / 共 &N 页"


def _disk_chart(wb: Workbook, data: ReportData) -> None:
    """Daily used % of the fullest mounts, as a line chart beside its data."""
    ws = wb.create_sheet("空间使用趋势")
    days = sorted({d for s in data.disk_chart for d, _ in s.points})
    ws.cell(1, 1, "日期")
    for c, s in enumerate(data.disk_chart, 2):
        ws.cell(1, c, s.label)
        ws.column_dimensions[get_column_letter(c)].width = 18
        by_day = dict(s.points)
        for r, d in enumerate(days, 2):
            ws.cell(r, c, by_day.get(d))
    for r, d in enumerate(days, 2):
        ws.cell(r, 1, d.isoformat())
    ws.column_dimensions["A"].width = 12
    chart = LineChart()
    chart.title, chart.y_axis.title, chart.x_axis.title = "空间使用率 (%)", "%", "日期"
    chart.height, chart.width = 9, 22
    chart.add_data(Reference(ws, min_col=2, max_col=len(data.disk_chart) + 1, min_row=1, max_row=len(days) + 1),
                   titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=len(days) + 1))
    ws.add_chart(chart, f"{get_column_letter(len(data.disk_chart) + 3)}2")
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
