"""The DOCX report carries the PDF's charts as PNG pictures: as many as the PDF draws for the same
month, real pictures (size, several colours), none for a month without data, and made on a machine
without any CJK font file."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from PIL import Image

from collector.reports import chartdata, pngcharts, service
from collector.reports.data import DiskSeries, ReportData
from collector.reports.fonts import TRUETYPE_CANDIDATES
from collector.runtime import runtime
from tests.collector.reports.month_data import MONTH, build_month, cst
from tests.collector.reports.test_report_fonts import FONT_DIRS

NOW = cst(2026, 10, 8, 9)
PDF_CHART_TITLES = ("各系统可用率", "空间使用率趋势")


def render(api: Any, fmt: str, month: str = MONTH) -> bytes:
    with api.app.state.read_sessionmaker() as db:
        return service.render(db=db, month=month, unit="", fmt=fmt, rt=runtime(api.app.state.settings), now=NOW)


def pictures(docx: bytes) -> list[Image.Image]:
    doc = Document(io.BytesIO(docx))
    blips = [s._inline.graphic.graphicData.pic.blipFill.blip.embed for s in doc.inline_shapes]
    return [Image.open(io.BytesIO(doc.part.related_parts[r].blob)) for r in blips]


def assert_chart(img: Image.Image) -> None:
    assert img.format == "PNG" and img.size == (pngcharts.WIDTH, pngcharts.HEIGHT)
    colours = img.convert("RGB").getcolors(maxcolors=100_000)
    assert colours is not None
    # white ground, dark text and axes, grey grid, and the series drawn in the palette's colours
    used = {c for _, c in colours}
    assert {(255, 255, 255), (34, 34, 34), (221, 221, 221)} <= used and len(used) >= 6
    palette = {tuple(int(p[i:i + 2], 16) for i in (1, 3, 5)) for p in pngcharts.PALETTE}
    assert sum(n for n, c in colours if c in palette) > 2000
    ink = sum(n for n, c in colours if c != (255, 255, 255))
    assert ink > 0.01 * img.size[0] * img.size[1]


def test_docx_has_the_pdf_charts(api: Any, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    build_month(api)
    (tmp_path / "r.pdf").write_bytes(render(api, "pdf"))
    text = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    in_pdf = [t for t in PDF_CHART_TITLES if t in text]
    assert in_pdf == list(PDF_CHART_TITLES)  # this month has both
    docx = render(api, "docx")
    images = pictures(docx)
    assert len(images) == len(in_pdf)
    for img in images:
        assert_chart(img)
    captions = [p.text for p in Document(io.BytesIO(docx)).paragraphs if p.style.name == "Caption"]
    for title in in_pdf:
        assert any(c.startswith(title) for c in captions), title
    # each chart follows its section's table, as in the PDF
    body = [p.text for p in Document(io.BytesIO(docx)).paragraphs]
    assert body.index("系统运行情况") < body.index(next(c for c in captions if c.startswith("各系统可用率")))
    assert body.index("空间使用情况") < body.index(next(c for c in captions if c.startswith("空间使用率趋势")))


def test_a_month_without_data_has_no_chart(api: Any) -> None:
    build_month(api)
    docx = render(api, "docx", month="2026-07")
    assert pictures(docx) == []
    assert "系统服务月报" in [p.text for p in Document(io.BytesIO(docx)).paragraphs]


MONTH_DOCX = """
import sys
from fastapi.testclient import TestClient
from collector.app import create_app
from collector.config import Settings
from collector.reports import fonts, service
from collector.runtime import runtime
from tests.collector.conftest import Api
from tests.collector.reports.month_data import MONTH, build_month, cst
settings = Settings(db_url="sqlite:///" + sys.argv[1] + ".db", jobs_enabled=False)
with TestClient(create_app(settings)) as client:
    api = Api(client)
    build_month(api)
    with api.app.state.read_sessionmaker() as db:
        content = service.render(db=db, month=MONTH, unit="", fmt="docx", rt=runtime(settings), now=cst(2026, 10, 8, 9))
open(sys.argv[1], "wb").write(content)
print(fonts.report_font().path or "none")
"""


def test_docx_charts_without_any_cjk_font(tmp_path: Path) -> None:
    """Fonts hidden as in test_report_fonts: the pictures use Pillow's built-in font; the system names
    the picture cannot draw are numbered there and named in the caption."""
    if not shutil.which("unshare") or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode:
        pytest.skip("no mount namespace here")
    out = tmp_path / "hidden.docx"
    (tmp_path / "render.py").write_text(MONTH_DOCX, encoding="utf-8")
    repo = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k != "XUNJIAN_REPORT_FONT"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH", "")]))
    mounts = " && ".join(f"mount -t tmpfs none {d}" for d in FONT_DIRS if os.path.isdir(d))
    shell = (f"{mounts} && ! ls {' '.join(TRUETYPE_CANDIDATES)} 2>/dev/null && "
             f"exec {sys.executable} {tmp_path / 'render.py'} {out}")
    run = subprocess.run(["unshare", "-m", "sh", "-c", shell], capture_output=True, text=True, env=env, cwd=repo,
                         timeout=180)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "none"
    images = pictures(out.read_bytes())
    assert len(images) == 2
    for img in images:
        assert_chart(img)
    captions = [p.text for p in Document(str(out)).paragraphs if p.style.name == "Caption"]
    assert any(c.startswith("横轴：#1 ") for c in captions), captions


def test_a_long_mount_path_stays_inside_the_picture() -> None:
    first = date(2026, 9, 1)
    long = "db-primary-0001.example.internal:/var/lib/postgresql/15/main/pg_wal"
    series = [DiskSeries(long, [(first + timedelta(d), 50.0 + d) for d in range(30)])]
    data = ReportData(month="2026-09", unit="", title="t", generated_at="", figures={}, tables=[],
                      disk_chart=series, month_days=(first, date(2026, 9, 30)))
    chart = chartdata.disk(data)
    assert chart is not None
    png = Image.open(io.BytesIO(pngcharts.disk(chart).png))
    assert_chart(png)
    img = png.convert("RGB")
    edge = img.crop((img.width - 6, 0, img.width, img.height)).getcolors()
    assert edge == [(6 * img.height, (255, 255, 255))]
