"""The report as an editable Word document (python-docx), for customers who amend and stamp it in
Word or WPS: the same cover, 本月概述, sections and 签字确认 as the PDF, with "第 N 页 共 M 页" as page
fields, and the PDF's charts as PNG pictures (collector/reports/pngcharts.py) with their titles as
text under them.

Tables are written as WordprocessingML directly: python-docx's per-cell API takes seconds on a
2,000-ticket month."""
from __future__ import annotations

import io
import re
from typing import Any
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm, Pt

from collector.reports import pngcharts
from collector.reports.data import ReportData, Table

FONT_ZH = "宋体"
PAGE_WIDTH_TWIPS = int(297 / 25.4 * 1440)  # A4 landscape
MARGIN_MM = 15
USABLE_TWIPS = PAGE_WIDTH_TWIPS - 2 * int(MARGIN_MM / 25.4 * 1440)
CHART_WIDTH_MM = 240  # of the 267 mm between the margins
CHAR_TWIPS = 150  # one Excel width unit at 7.5 pt, for the tables' relative widths
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold


def _xml_text(value: Any) -> str:
    """Cell text as escaped runs; line breaks kept."""
    if value is None:
        value = "—"
    elif isinstance(value, float):
        value = f"{value:.2f}"
    lines = _NOT_XML.sub("", str(value)).split("\n")
    return "<w:br/>".join(f'<w:t xml:space="preserve">{escape(line)}</w:t>' for line in lines)


def render(data: ReportData) -> bytes:
    doc = Document()
    _page_setup(doc, data)
    if data.cover is not None:
        _cover(doc, data)
    else:
        doc.add_heading(data.title, level=0)
    if data.overview:
        doc.add_heading("本月概述", level=1)
        for text in data.overview:
            p = doc.add_paragraph(_NOT_XML.sub("", text))
            p.paragraph_format.first_line_indent = Pt(21)
    charts = pngcharts.pictures(data)
    for t in data.tables:
        doc.add_heading(t.title, level=1)
        if t.note:
            note = doc.add_paragraph()
            note.paragraph_format.keep_with_next = True
            run = note.add_run(_NOT_XML.sub("", t.note))
            run.font.size = Pt(8)
        _append(doc, _table(t))
        doc.add_paragraph()
        if t.key in charts:
            _picture(doc, charts[t.key])
    if data.cover is not None:
        _sign_off(doc, data)
    doc.core_properties.title = data.title
    doc.core_properties.author = "巡检 Xunjian"
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _append(doc: Any, element: Any) -> None:
    """Into the body before its final section properties (which must stay last)."""
    body = doc.element.body
    if body.sectPr is not None:
        body.sectPr.addprevious(element)
    else:
        body.append(element)


def _page_setup(doc: Any, data: ReportData) -> None:
    normal = doc.styles["Normal"]
    normal.font.size = Pt(10.5)
    normal.font.name = FONT_ZH
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT_ZH)
    for level in (0, 1):
        style = doc.styles["Title" if level == 0 else f"Heading {level}"]
        style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT_ZH)
    s = doc.sections[0]
    s.orientation, s.page_width, s.page_height = WD_ORIENT.LANDSCAPE, Mm(297), Mm(210)
    s.left_margin = s.right_margin = Mm(MARGIN_MM)
    s.top_margin = s.bottom_margin = Mm(15)
    footer = s.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    footer._p.append(parse_xml(
        f'<w:r {nsdecls("w")}><w:t xml:space="preserve">{escape(data.title)}　　第 </w:t></w:r>'))
    footer._p.append(parse_xml(f'<w:fldSimple {nsdecls("w")} w:instr=" PAGE "><w:r><w:t>1</w:t></w:r></w:fldSimple>'))
    footer._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:t xml:space="preserve"> 页 共 </w:t></w:r>'))
    footer._p.append(parse_xml(
        f'<w:fldSimple {nsdecls("w")} w:instr=" NUMPAGES "><w:r><w:t>1</w:t></w:r></w:fldSimple>'))
    footer._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:t xml:space="preserve"> 页</w:t></w:r>'))


def _picture(doc: Any, chart: pngcharts.Picture) -> None:
    """The picture kept on the page of its title and caption, which follow it."""
    holder = doc.add_paragraph()
    holder.paragraph_format.keep_with_next = True
    holder.add_run().add_picture(io.BytesIO(chart.png), width=Mm(CHART_WIDTH_MM))
    for i, text in enumerate([chart.title, *chart.caption]):
        p = doc.add_paragraph(style="Caption")
        p.paragraph_format.keep_with_next = i < len(chart.caption)
        run = p.add_run(_NOT_XML.sub("", text))
        run.font.size = Pt(10 if i == 0 else 8)
        run.bold = i == 0


def _cover(doc: Any, data: ReportData) -> None:
    c = data.cover
    assert c is not None
    for _ in range(4):
        doc.add_paragraph()
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("系统服务月报")
    run.font.size, run.bold = Pt(30), True
    sub = doc.add_paragraph()
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub.add_run(_NOT_XML.sub("", f"{c.month_zh}（{c.unit}）")).font.size = Pt(18)
    doc.add_paragraph()
    table = doc.add_table(rows=0, cols=2)
    table.alignment = 1  # centred
    for k, v in c.fields():
        cells = table.add_row().cells
        cells[0].text, cells[1].text = k, _NOT_XML.sub("", v) or "_" * 24
        cells[0].width, cells[1].width = Mm(35), Mm(120)
        for cell in cells:
            for r in cell.paragraphs[0].runs:
                r.font.size = Pt(14)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _widths(t: Table) -> list[int]:
    raw = [w * CHAR_TWIPS for w in t.widths] if t.widths else [1000] * len(t.headers)
    total = sum(raw)
    return [int(w * USABLE_TWIPS / total) for w in raw] if total > USABLE_TWIPS else [int(w) for w in raw]


def _table(t: Table) -> Any:
    widths = _widths(t)
    grid = "".join(f'<w:gridCol w:w="{w}"/>' for w in widths)

    def row(values: list[Any], header: bool) -> str:
        tr_pr = "<w:trPr><w:tblHeader/><w:cantSplit/></w:trPr>" if header else "<w:trPr><w:cantSplit/></w:trPr>"
        shade = '<w:shd w:val="clear" w:color="auto" w:fill="DDE6F0"/>' if header else ""
        bold = "<w:b/>" if header else ""
        cells = "".join(
            f'<w:tc><w:tcPr><w:tcW w:w="{w}" w:type="dxa"/>{shade}</w:tcPr><w:p><w:pPr><w:spacing w:before="0" '
            f'w:after="0"/></w:pPr><w:r><w:rPr>{bold}<w:sz w:val="16"/></w:rPr>{_xml_text(v)}</w:r></w:p></w:tc>'
            for v, w in zip(values, widths))
        return f"<w:tr>{tr_pr}{cells}</w:tr>"

    body = t.rows or [["无"] + [""] * (len(t.headers) - 1)]
    xml = (f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="0" w:type="auto"/>'
           f'<w:tblLook w:val="04A0"/></w:tblPr><w:tblGrid>{grid}</w:tblGrid>'
           + row(t.headers, True) + "".join(row(r, False) for r in body) + "</w:tbl>")
    return parse_xml(xml)


def _sign_off(doc: Any, data: ReportData) -> None:
    c = data.cover
    assert c is not None
    heading = doc.add_heading("签字确认", level=1)
    heading.paragraph_format.page_break_before = False
    p = doc.add_paragraph(_NOT_XML.sub("", c.confirmation()))
    p.paragraph_format.keep_with_next = True
    table = doc.add_table(rows=5, cols=2)
    table.style = doc.styles["Table Grid"]
    lines = c.sign_off(blank="_" * 20)
    for r, (left, right) in enumerate(lines):
        row = table.rows[r]
        row.cells[0].text, row.cells[1].text = _NOT_XML.sub("", left), _NOT_XML.sub("", right)
        row._tr.get_or_add_trPr().append(parse_xml(f'<w:cantSplit {nsdecls("w")}/>'))
        if r == 2:
            row.height = Mm(16)
        if r == 3:
            row.height = Mm(38)
        for cell in row.cells:
            cell.paragraphs[0].paragraph_format.keep_with_next = r < len(lines) - 1
    doc.add_paragraph()
