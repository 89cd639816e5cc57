"""The PDF report is produced with correct Chinese whatever fonts the machine has: run in a mount
namespace where the font folders are empty tmpfs, then read back with pdftotext/pdffonts."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from collector.reports.fonts import TRUETYPE_CANDIDATES

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
RENDER = """
import sys
from collector.reports import fonts, pdf
from collector.reports.data import ReportData, Table
rows = [["电子凭证库", "某市财政局", "凭证发送失败, 已重启消息中间件"], ["电子印章系统", "<b>x<y</b>", "签章服务正常"]]
data = ReportData(month="2026-09", unit="某市财政局", title="系统服务月报 2026年9月 — 某市财政局",
                  generated_at="2026-10-08 09:00", figures={},
                  tables=[Table("summary", "概况", ["系统", "客户单位", "说明"], rows, [14, 16, 30], note="巡检说明")])
open(sys.argv[1], "wb").write(pdf.render(data))
print(fonts.report_font().name)
"""

MONTH_REPORT = """
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
        content = service.render(db=db, month=MONTH, unit="", fmt="pdf", rt=runtime(settings), now=cst(2026, 10, 8, 9))
open(sys.argv[1], "wb").write(content)
print(fonts.report_font().name)
"""


def render_hidden(tmp_path: Path, font_env: str | None, program: str = RENDER) -> tuple[str, str, str]:
    """Render in a namespace where FONT_DIRS are empty; returns (font used, pdftotext, pdffonts)."""
    if not shutil.which("unshare") or not shutil.which("pdftotext"):
        pytest.skip("needs unshare and poppler-utils")
    out = tmp_path / "hidden.pdf"
    script = tmp_path / "render.py"
    script.write_text(program, encoding="utf-8")
    mounts = " && ".join(f"mount -t tmpfs none {d}" for d in FONT_DIRS if os.path.isdir(d))
    repo = Path(__file__).resolve().parents[3]
    env = {k: v for k, v in os.environ.items() if k != "XUNJIAN_REPORT_FONT"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH", "")]))
    if font_env is not None:
        env["XUNJIAN_REPORT_FONT"] = font_env
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode(errors='replace').strip()}")
    shell = (f"{mounts} && ! ls {' '.join(TRUETYPE_CANDIDATES)} 2>/dev/null && "
             f"exec {sys.executable} {script} {out}")
    run = subprocess.run(["unshare", "-m", "sh", "-c", shell], capture_output=True, text=True, env=env,
                         cwd=repo, timeout=120)
    assert run.returncode == 0, run.stderr
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    return run.stdout.strip(), text, fonts


def test_without_any_cjk_font_file_the_builtin_cid_font_is_used(tmp_path: Path) -> None:
    used, text, fonts = render_hidden(tmp_path, None)
    assert used == "STSong-Light"
    assert "STSong-Light" in fonts
    if not Path("/usr/share/poppler/cMap/Adobe-GB1").exists():
        pytest.skip("pdftotext needs poppler-data to read the built-in CID font back")
    for words in ("系统服务月报 2026年9月", "某市财政局", "凭证发送失败", "电子印章系统", "<b>x<y</b>"):
        assert words in text, words


def test_a_broken_font_setting_falls_back_instead_of_failing(tmp_path: Path) -> None:
    used, _, _ = render_hidden(tmp_path, str(tmp_path / "missing.ttf"))
    assert used == "STSong-Light"


def test_the_configured_font_wins_and_is_embedded(tmp_path: Path) -> None:
    found = next((p for p in TRUETYPE_CANDIDATES if Path(p).exists()), None)
    if found is None:
        pytest.skip("no CJK TrueType font installed to copy")
    mine = tmp_path / "mine.ttc" if found.endswith(".ttc") else tmp_path / "mine.ttf"
    shutil.copyfile(found, mine)
    used, text, fonts = render_hidden(tmp_path, str(mine))
    assert used == "Xunjian-mine"
    assert "STSong" not in fonts
    embedded = [line for line in fonts.splitlines()[2:] if line.split()]
    assert embedded and all(" yes " in f" {line} " for line in embedded if "Helvetica" not in line)
    assert "系统服务月报 2026年9月" in text and "凭证发送失败" in text


def test_the_whole_month_report_without_cjk_fonts(tmp_path: Path) -> None:
    """The realistic month of test_monthly_report, made where no CJK font file exists."""
    used, text, fonts = render_hidden(tmp_path, None, MONTH_REPORT)
    assert used == "STSong-Light" and "STSong-Light" in fonts
    if not Path("/usr/share/poppler/cMap/Adobe-GB1").exists():
        pytest.skip("pdftotext needs poppler-data to read the built-in CID font back")
    for words in ("系统服务月报 2026年9月", "人员情况统计表", "用户回访统计表", "电子凭证库", "张工", "凭证库无法登录",
                  "2026-10-21"):
        assert words in text, words
