"""The monthly report as a document a finance bureau signs: cover, 本月概述, the figures a service
manager reads first, 签字确认, "第 N 页 共 M 页"; PDF pages rendered and read back, DOCX and XLSX
opened and read back."""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook

from collector.config import Settings
from collector.reports import pdf, service
from collector.reports.data import Table
from collector.runtime import runtime
from collector.tickets import workflow
from collector.users.models import User
from tests.collector.reports.month_data import MONTH, build_month, cst

PROVIDER = "某某信息技术有限公司 <运维部> & 合作方"
CONTRACT = "HT-2026-017"
HOSTILE = "页面报错 <font color=red>红</font> & <b>粗</b>\x07 结束"
NOW = cst(2026, 10, 8, 9)
SECTION_TITLES = ("本月概述", "概况", "主要指标与上月对比", "服务响应达标率", "响应超时明细", "系统运行情况",
                  "主机可用率", "本月中断与严重故障", "重复故障 TOP 10", "异常检查统计", "空间使用情况", "服务单统计",
                  "系统服务单", "人员情况统计表", "满意度", "用户回访统计表", "签字确认")


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(db_url=db_url, jobs_enabled=False,
                    report={"provider": PROVIDER, "contract_number": CONTRACT})


def more_cases(api: Any) -> None:
    """An urgent call at 22:00 answered in 30 minutes, a hostile description, one case in August."""
    settings = api.app.state.settings
    rt = runtime(settings)
    with api.app.state.sessionmaker() as db:
        zhang = db.scalar(sa.select(User).where(User.name == "zhang"))

        def case(at: Any, text: str, **extra: Any) -> Any:
            return workflow.create_manual(db=db, rt=rt, actor=zhang, now=at, number_prefix="FW",
                                          tz=settings.timezone, data={
                                              "channel": "phone", "description": text, "customer_name": "刘科长",
                                              "customer_unit": "某市财政局", "room": "301", "system": "voucher",
                                              "host": "web01", "reported_at": at, **extra})
        urgent = case(cst(2026, 9, 22, 22, 0), "夜间凭证无法签章", urgent=True)
        workflow.acknowledge(db=db, ticket=urgent, actor=zhang, now=cst(2026, 9, 22, 22, 30))
        case(cst(2026, 9, 23, 9, 0), HOSTILE)
        august = case(cst(2026, 8, 20, 10, 0), "八月的电话")
        workflow.acknowledge(db=db, ticket=august, actor=zhang, now=cst(2026, 8, 20, 10, 10))
        db.commit()


def render(api: Any, fmt: str, unit: str = "") -> bytes:
    rt = runtime(api.app.state.settings)
    with api.app.state.read_sessionmaker() as db:
        return service.render(db=db, month=MONTH, unit=unit, fmt=fmt, rt=rt, now=NOW)


def data(api: Any, unit: str = "") -> Any:
    rt = runtime(api.app.state.settings)
    with api.app.state.read_sessionmaker() as db:
        return service.build(db=db, month=MONTH, unit=unit, rt=rt, now=NOW)


def test_the_figures_a_service_manager_reads_first(api: Any) -> None:
    build_month(api)
    more_cases(api)
    d = data(api)
    assert d.cover.provider == PROVIDER and d.cover.contract_number == CONTRACT
    assert d.cover.unit == "全部单位" and d.cover.period == "2026-09-01 至 2026-09-30"
    assert d.cover.issued == "2026-10-08"

    compliance = {(r[0], r[1]): r[2:] for r in d.table("compliance").rows}
    assert compliance[("渠道", "电话")] == [3, 2, 0, 100.0]  # T1, the urgent call; the hostile one unanswered
    assert compliance[("渠道", "现场")] == [1, 0, 1, 0.0]
    assert compliance[("系统", "消息中间件")] == [1, 0, 1, 0.0]
    assert compliance[("客户单位", "某市财政局")] == [6, 3, 1, 75.0]
    assert compliance[("合计", "")] == [8, 4, 1, 80.0]
    # every breach: number, channel, due, responded, by how much (working hours: due 11:00, answered 13:30,
    # lunch 12:00-13:00 is not working time)
    [breach] = d.table("breaches").rows
    assert breach[1:3] == ["现场", "某市财政局"]
    assert breach[5:] == ["2026-09-14 11:00", "2026-09-14 13:30", 1.5, "工作时间"]

    hosts = d.table("host_availability").rows
    assert [h[0] for h in hosts] == ["web01", "web02"]  # worst first
    assert hosts[0][5] == 99.86 and hosts[0][7] == 2.0 and hosts[1][5] == 100.0
    outages = d.table("outages").rows
    assert [(o[0], o[2], o[7]) for o in outages] == [("严重故障", "web01", 4.0), ("巡检代理失联", "web02", 3.0)]
    top = d.table("top_faults").rows
    assert [(t[0], t[3], t[4], t[5], t[6]) for t in top] == [("web02", "agent", 1, 0, 3.0),
                                                            ("web01", "voucher-log", 1, 2, 2.0)]
    cmp = {r[0]: r[1:] for r in d.table("comparison").rows}
    assert cmp["受理服务单"] == [8, 1, "+7"] and cmp["巡检次数"] == [2160, 0, "+2,160"]
    assert cmp["响应达标率(%)"] == [80.0, 100.0, "-20.00"] and cmp["满意率(%)"][1] is None

    # the urgent call at 22:00 counts clock hours: 0.5 h, met — not "0.00 working hours / breached"
    tickets = d.table("tickets")
    col = {h: i for i, h in enumerate(tickets.headers)}
    urgent = next(r for r in tickets.rows if r[col["问题描述"]] == "夜间凭证无法签章")
    assert (urgent[col["响应(小时)"]], urgent[col["响应计时"]], urgent[col["响应结果"]]) == (0.5, "7×24", "达标")
    t1 = next(r for r in tickets.rows if r[col["问题描述"]] == "凭证库无法登录")
    assert (t1[col["响应(小时)"]], t1[col["响应计时"]]) == (0.5, "工作时间")

    text = "".join(d.overview)
    assert "2 台主机" in text and "巡检 2,160 次" in text and "发现异常 2 项" in text
    assert f"超时 1 张（{breach[0]}）" in text and "响应达标率 80.00%" in text
    assert "web01:/ 月末使用率 79.00%，按本月增长预计 2026-10-21 写满" in text
    assert "与上月相比：发现异常(自动服务单) +2，受理服务单 +7，响应达标率 -20.00 个百分点。" in text
    county = data(api, "某县财政局")
    assert "某县财政局" in county.overview[0] and "全部按时响应" in "".join(county.overview)
    assert "需关注" not in "".join(county.overview)
    assert "上月没有巡检与服务单数据，不作对比。" in county.overview
    assert [r[1] for r in county.table("compliance").rows if r[0] == "客户单位"] == []  # one unit: no unit rows


def _pdftotext(path: Path, page: int | None = None) -> str:
    args = ["pdftotext", "-layout"] + (["-f", str(page), "-l", str(page)] if page else []) + [str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def test_pdf_pages(api: Any, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftotext, pdftoppm) is not installed")
    build_month(api)
    more_cases(api)
    out = tmp_path / "report.pdf"
    out.write_bytes(render(api, "pdf"))
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(out), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page*.png"))
    total = len(pngs)
    assert total >= 5 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)

    pages = [re.sub(r"\s+", "", _pdftotext(out, n)) for n in range(1, total + 1)]
    for n, page in enumerate(pages, 1):
        assert page.endswith(f"第{n}页共{total}页"), (n, page[-40:])
    cover = pages[0]
    assert "系统服务月报" in cover and "2026年9月（全部单位）" in cover
    for words in ("客户单位全部单位", "报告期间2026-09-01至2026-09-30", f"合同编号{CONTRACT}", "出具日期2026-10-08",
                  re.sub(r"\s+", "", f"服务单位{PROVIDER}")):  # the provider's <...> & printed as text
        assert words in cover, words
    assert "本月概述" not in cover
    assert pages[1].startswith("本月概述") and "响应达标率80.00%" in pages[1]
    last = pages[-1]
    assert "签字确认" in last and last.count("负责人签字") == 2 and last.count("（盖章）") == 2
    assert f"单位名称：{re.sub(chr(32), '', PROVIDER)}" in last
    whole = "".join(pages)
    for title in SECTION_TITLES:
        assert title.replace(" ", "") in whole, title
    for piece in ("页面报错<font", "color=red>红<", "粗</b>"):  # markup in user text is printed, not obeyed
        assert piece in whole, piece

    # no heading alone at the foot of a page: the last line above the footer is never a section title
    for n in range(1, total + 1):
        lines = [ln.strip() for ln in _pdftotext(out, n).splitlines() if ln.strip()]
        body = [ln for ln in lines if "页 共" not in ln and not re.search(r"第\s*\d+\s*页", ln)]
        assert body and body[-1] not in SECTION_TITLES, (n, body[-3:])


def test_column_widths_fit_their_content() -> None:
    pdf.font()
    usable = 773.0
    headers = ["编号", "工程师姓名", "工程师编号", "客户姓名", "客户单位", "客户房间号", "热线时间", "解决问题时间",
               "渠道", "问题描述", "解决描述", "系统", "主机", "严重程度", "状态", "响应(小时)", "响应计时", "响应结果",
               "解决(工作小时)", "满意度"]
    row = ["FW-202609-0002", "张工", "E01", "刘科长", "某市财政局", "301", "2026-09-07 09:00", "2026-09-07 11:00",
           "电话", "凭证库无法登录" * 6, "重置密码后恢复" * 6, "电子凭证库", "web01", "警告", "已关闭", 0.5, "工作时间",
           "达标", 2.0, "基本满意"]
    widths = pdf.column_widths(Table("tickets", "系统服务单", headers, [row] * 5, []), usable)
    assert sum(widths) <= usable + 0.01
    inner = [w - 2 * pdf.PAD - 1 for w in widths]
    for h, w in zip(headers, inner):  # header cells on at most two lines, never one character a line
        assert pdf.wrap(h, w).count("\n") <= 1, (h, pdf.wrap(h, w))
    for v, w in zip(row, inner):
        if isinstance(v, str) and len(v) <= 16:  # numbers, times, names: never broken inside a word
            lines = pdf.wrap(v, w).split("\n")
            assert [word for line in lines for word in line.split()] == v.split(), (v, lines)
    assert widths[headers.index("问题描述")] > widths[headers.index("渠道")]
    small = pdf.column_widths(Table("summary", "概况", ["项目", "数值"], [["巡检次数", 2160]], []), usable)
    assert sum(small) < usable / 3  # a small table is as wide as its content, not the page


def test_docx_and_xlsx_read_back(api: Any) -> None:
    build_month(api)
    more_cases(api)
    d = data(api)
    doc = Document(io.BytesIO(render(api, "docx")))
    paragraphs = [p.text for p in doc.paragraphs]
    assert "系统服务月报" in paragraphs and "本月概述" in paragraphs and "签字确认" in paragraphs
    assert paragraphs.index("本月概述") < paragraphs.index("系统服务单") < paragraphs.index("签字确认")
    assert d.overview[0] in paragraphs
    cover = doc.tables[0]
    assert [(r.cells[0].text, r.cells[1].text) for r in cover.rows][2:4] == [("服务单位", PROVIDER),
                                                                              ("合同编号", CONTRACT)]
    tickets = next(t for t in doc.tables if t.rows[0].cells[0].text == "编号" and len(t.columns) == 20)
    assert len(tickets.rows) == len(d.table("tickets").rows) + 1
    assert tickets.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # header repeated on every page
    texts = [r.cells[9].text for r in tickets.rows[1:]]
    assert HOSTILE.replace("\x07", "") in texts
    sign = doc.tables[-1]
    assert sign.rows[0].cells[0].text == "服务单位" and sign.rows[1].cells[0].text == f"单位名称：{PROVIDER}"
    footer = doc.sections[0].footer.paragraphs[0]._p.xml
    assert 'w:instr=" PAGE "' in footer and 'w:instr=" NUMPAGES "' in footer and "共" in footer
    assert doc.element.body[-1].tag == qn("w:sectPr")
    assert doc.sections[0].page_width > doc.sections[0].page_height  # landscape

    wb = load_workbook(io.BytesIO(render(api, "xlsx")))
    breach = [list(r) for r in wb["响应超时明细"].iter_rows(min_row=4, values_only=True)]
    assert len(breach) == 1 and breach[0][7] == 1.5
    cover_cells = [c.value for row in wb["封面与概述"].iter_rows() for c in row if c.value]
    assert PROVIDER in cover_cells and CONTRACT in cover_cells and d.overview[-1] in cover_cells
    html = render(api, "html").decode()
    assert "本月概述" in html and "签字确认" in html and "&lt;运维部&gt; &amp; 合作方" in html


def test_cli_docx(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    config = tmp_path / "collector.yaml"
    config.write_text(f"report:\n  provider: {PROVIDER!r}\n  contract_number: {CONTRACT}\n", encoding="utf-8")
    exe = [sys.executable, "-m", "collector.cli"]
    subprocess.run([*exe, "agent", "enroll", "web01", "--unit", "某市财政局", "--db", db], check=True,
                   capture_output=True)
    out = tmp_path / "r.docx"
    p = subprocess.run([*exe, "report", "monthly", "--month", "2026-09", "--unit", "某市财政局", "--format", "docx",
                        "--out", str(out), "--db", db, "--config", str(config)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    doc = Document(str(out))
    rows = [(r.cells[0].text, r.cells[1].text) for r in doc.tables[0].rows]
    assert ("客户单位", "某市财政局") in rows and ("服务单位", PROVIDER) in rows and ("合同编号", CONTRACT) in rows
    assert "本月没有某市财政局的巡检数据。" in [p.text for p in doc.paragraphs]
    empty = tmp_path / "r.pdf"  # a month without data: no charts at all (not empty axes)
    p = subprocess.run([*exe, "report", "monthly", "--month", "2026-09", "--format", "pdf", "--out", str(empty),
                        "--db", db], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    if shutil.which("pdftotext"):
        text = re.sub(r"\s+", "", _pdftotext(empty))
        assert "本月概述" in text and "签字确认" in text and "本月没有各客户单位的巡检数据" in text
        assert "各系统可用率" not in text and "空间使用率趋势" not in text
    forms = tmp_path / "forms.pdf"
    p = subprocess.run([*exe, "report", "forms", "--month", "2026-09", "--unit", "某市财政局", "--out", str(forms),
                        "--db", db], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert forms.read_bytes().startswith(b"%PDF-") and "系统服务单 0 张" in p.stderr


def test_forms_one_page_per_ticket_of_the_month(api: Any, tmp_path: Path) -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftotext, pdftoppm) is not installed")
    from collector.reports import forms

    build_month(api)
    more_cases(api)
    tz = runtime(api.app.state.settings).calendar.tz
    numbers = [r[0] for r in data(api).table("tickets").rows]  # the report's month: call time
    with api.app.state.read_sessionmaker() as db:
        tickets = forms.tickets_of(db, month=MONTH, unit="", tz=tz)
        county = forms.tickets_of(db, month=MONTH, unit="某县财政局", tz=tz)
        out = tmp_path / "forms.pdf"
        out.write_bytes(forms.render(tickets, tz=tz, title="系统服务单 2026年9月 全部单位"))
    assert [t.number for t in tickets] == numbers and len(numbers) == 8  # the August call is not in September
    assert {t.customer_unit for t in county} == {"某县财政局"} and len(county) == 2
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(out), str(tmp_path / "form")], check=True)
    assert len(list(tmp_path.glob("form*.png"))) == len(numbers)  # one form a page
    for n, number in enumerate(numbers, 1):
        page = re.sub(r"\s+", "", _pdftotext(out, n))
        assert page.startswith("系统服务单") and f"编号:{number}" in page, (n, page[:80])
        for label in ("工程师姓名", "客户单位", "热线时间", "解决问题时间", "受理方式", "问题描述", "解决描述",
                      "客户满意度", "工程师签字", "客户签字"):
            assert label in page, (n, label)
    first = re.sub(r"\s+", "", _pdftotext(out, 1))
    assert "热线时间2026-09-0709:00" in first and "■电话" in first and "■满意" in first and "□邮件" in first
    hostile = re.sub(r"\s+", "", _pdftotext(out, numbers.index(next(
        t.number for t in tickets if t.description == HOSTILE)) + 1))
    assert "页面报错<fontcolor=red>红</font>&<b>粗</b>" in hostile
