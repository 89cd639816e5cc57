"""User- and agent-supplied text made inert in the report files.

PDF: reportlab's Paragraph parses its text as XML-like markup (`<img src=...>` opens a local file or
URL, a stray `<` raises), so every Paragraph of the report takes its text through `para`, which
escapes it. Table cells given as plain strings and canvas strings are drawn as they are.
XLSX: openpyxl stores a string starting with `=` as a formula; `inert_workbook` turns every such cell
back into text and marks cells starting with one of OWASP's CSV-injection characters as quoted text,
so Excel/WPS neither evaluates them now nor after the cell is edited.
"""
from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from reportlab.platypus import Paragraph

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP CSV injection


def markup(text: Any) -> str:
    """`text` as reportlab paragraph markup that shows exactly these characters."""
    return escape("" if text is None else str(text)).replace("\n", "<br/>")


def para(text: Any, style: Any) -> Paragraph:
    """A Paragraph of plain text (never markup)."""
    return Paragraph(markup(text), style)


def para_markup(template: str, style: Any, **values: Any) -> Paragraph:
    """A Paragraph of the report's own markup (`template`, e.g. "<b>{unit}</b>") with every value
    escaped: the way to mix bold or colour with data."""
    return Paragraph(template.format(**{k: markup(v) for k, v in values.items()}), style)


def is_formula_like(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def inert_workbook(wb: Workbook) -> int:
    """Make every formula-like string cell of `wb` plain text; returns how many were changed.
    The report writes no formulas of its own, so every formula cell came from data."""
    changed = 0
    for ws in wb.worksheets:
        for cell in ws._cells.values():  # the cells that exist; iter_rows would create the blank ones
            if cell.data_type == "f" or (cell.data_type == "s" and is_formula_like(cell._value)):
                cell.data_type = "s"
                cell.quotePrefix = True
                changed += 1
    return changed


def header_footer(text: str) -> str:
    """Text for an Excel page header/footer, where `&` starts a control code."""
    return text.replace("&", "&&")
