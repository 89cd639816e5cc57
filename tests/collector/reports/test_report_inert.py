"""Hostile strings from operators, customers and agents stay plain text in the report files
(issue 18): never PDF markup, never a file opened, never a spreadsheet formula."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from checks.model import Result, Status
from collector.hosts import service as hosts
from collector.reports import safe
from collector.rollups.service import run_rollups
from collector.runtime import runtime
from tests.collector.factories import batch
from tests.collector.reports.month_data import cst

IMG_UNIT = '<img src="/etc/hostname"/>'
EVIL_CHECK = '=HYPERLINK("http://evil.example/x","点击")'
FORMULAS = {"=1+1", "=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/y","看")', EVIL_CHECK,
            "@SUM(1+1)", '+HYPERLINK("http://evil.example/z")', "-2+3"}


def hostile_month(api: Any) -> None:
    """September 2026 with hostile names from every source: enrolment, an agent, tickets, a visit."""
    with api.app.state.sessionmaker() as db:
        _, token = hosts.enroll(db=db, name="web03", unit=IMG_UNIT)
        db.commit()
    start = cst(2026, 9, 10, 8)
    results = [Result(host="web03", check=EVIL_CHECK, system="voucher", type="command",
                      status=Status.CRITICAL if i % 2 else Status.OK, summary="<b>x</b> & =1+1",
                      started_at=start + timedelta(minutes=10 * i), duration=0.01) for i in range(12)]
    api.app.state.clock = lambda: start + timedelta(hours=2)  # received that day, whatever today is
    r = api.post_results(batch(*results, host="web03"), token=token)
    assert r.status_code == 200, r.text
    r = api.client.post("/api/v1/tickets", headers=api.h(api.engineer_key), json={
        "channel": "phone", "customer_name": "=1+1", "customer_unit": "=cmd|' /C calc'!A0",
        "description": '=HYPERLINK("http://evil.example/y","看")', "room": "-2+3", "system": "voucher",
        "reported_at": cst(2026, 9, 10, 9).isoformat()})
    assert r.status_code == 201, r.text
    r = api.client.post("/api/v1/visits", headers=api.h(api.engineer_key), json={
        "date": "2026-09-11", "unit": "@SUM(1+1)", "customer_name": "x<y", "method": "电话", "satisfaction": "满意",
        "comment": '+HYPERLINK("http://evil.example/z")', "answers": [{"question": "<i>?</i>", "answer": "\tok"}]})
    assert r.status_code == 201, r.text
    with api.app.state.sessionmaker() as db:
        run_rollups(db=db, now=cst(2026, 10, 8, 9), calendar=runtime(api.app.state.settings).calendar)
        db.commit()


def generate(api: Any, unit: str, fmt: str) -> bytes:
    r = api.client.post("/api/v1/reports", headers=api.h(api.engineer_key),
                        json={"month": "2026-09", "unit": unit, "format": fmt})
    assert r.status_code == 201, r.text
    got = api.client.get(r.json()["download"], headers=api.h(api.viewer_key))
    assert got.status_code == 200
    return got.content


def pdf_text(content: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    path = tmp_path / "r.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_pdf_shows_markup_as_text_and_opens_no_file(api: Any, tmp_path: Path) -> None:
    hostile_month(api)
    lt = pdf_text(generate(api, "x<y", "pdf"), tmp_path)
    assert "系统服务月报 2026年9月 — x<y" in lt

    content = generate(api, IMG_UNIT, "pdf")
    assert b"/Subtype /Image" not in content  # no picture was taken from the file system
    text = pdf_text(content, tmp_path)
    assert IMG_UNIT in text
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    if len(hostname) >= 6:
        assert hostname not in text

    overall = pdf_text(generate(api, "", "pdf"), tmp_path)
    flat = "".join(overall.split())  # the ticket ledger may wrap the description
    assert '=HYPERLINK("http://evil.example/y","看")' in flat and "x<y" in overall


def test_xlsx_cells_are_text_never_formulas(api: Any) -> None:
    hostile_month(api)
    wb = load_workbook(io.BytesIO(generate(api, "", "xlsx")))
    found = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    for evil in FORMULAS:
                        if cell.value.startswith(evil):
                            found[evil] = cell
    assert set(found) == FORMULAS, FORMULAS - set(found)
    for cell in found.values():
        assert cell.data_type == "s" and cell.quotePrefix  # stays text when edited in Excel/WPS
    tickets = list(wb["系统服务单"].iter_rows(values_only=True))
    at = next(i for i, r in enumerate(tickets) if "客户单位" in r)  # the header row, under the sheet's title
    header = list(tickets[at])
    row = next(r for r in tickets[at + 1:] if r[header.index("客户姓名")] == "=1+1")
    assert row[header.index("客户单位")] == "=cmd|' /C calc'!A0"
    assert row[header.index("问题描述")] == '=HYPERLINK("http://evil.example/y","看")'

    unit = load_workbook(io.BytesIO(generate(api, "A&B<x>", "xlsx")))
    assert unit["概况"].oddHeader.center.text == "系统服务月报 2026年9月 — A&&B<x>"  # '&B' would turn bold on


def test_safe_helpers() -> None:
    assert safe.markup('<img src="/etc/hostname"/> & a\nb') == '&lt;img src="/etc/hostname"/&gt; &amp; a<br/>b'
    assert [safe.is_formula_like(v) for v in ("=1", "+1", "-1", "@x", "\tx", "\rx", "ok", 5)] == [
        True] * 6 + [False, False]


def test_the_monthly_job_makes_every_hostile_unit(api: Any) -> None:
    """A unit named `x<y` (or an <img> tag) used to stop the job there, and every unit after it."""
    from collector.reports import service
    from collector.reports.models import Report

    hostile_month(api)
    with api.app.state.sessionmaker() as db:
        hosts.enroll(db=db, name="web04", unit="x<y")
        hosts.enroll(db=db, name="web05", unit="z&after")
        db.commit()
    rt = runtime(api.app.state.settings)
    with api.app.state.sessionmaker() as db:
        made = service.run_monthly(db=db, now=cst(2026, 10, 8, 9), rt=rt)
        db.commit()
        units = {r.unit for r in db.query(Report).filter(Report.format == "pdf")}
    assert {"x<y", IMG_UNIT, "z&after", "某市财政局", ""} <= units and len(made) == 3 * len(units)  # xlsx, pdf, forms


def test_report_paragraphs_go_through_safe() -> None:
    """Every reportlab Paragraph of the report is made by collector.reports.safe, which escapes data."""
    import ast

    bad = []
    for path in sorted((Path(__file__).resolve().parents[3] / "collector" / "reports").glob("*.py")):
        if path.name == "safe.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in ("Paragraph", "XPreformatted"):  # both parse markup
                    bad.append(f"{path.name}:{node.lineno}")
    assert not bad, f"use safe.para / safe.para_markup: {bad}"


def test_para_markup_escapes_values_only() -> None:
    from reportlab.lib.styles import getSampleStyleSheet

    p = safe.para_markup("<b>{unit}</b> {n}", getSampleStyleSheet()["Normal"], unit='<img src="/x"/>', n=3)
    assert p.text == '<b>&lt;img src="/x"/&gt;</b> 3'
