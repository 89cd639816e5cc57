"""The monthly service report (系统服务月报) from a realistic month, on SQLite and PostgreSQL."""
from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from collector.reports import builder, service
from collector.reports.models import Report
from collector.runtime import runtime
from tests.collector.reports.month_data import MONTH, build_month, cst

REPO = Path(__file__).resolve().parents[3]


def data_for(api: Any, unit: str = "") -> Any:
    rt = runtime(api.app.state.settings)
    with api.app.state.read_sessionmaker() as db:
        return builder.build(db=db, month=MONTH, unit=unit, calendar=rt.calendar, now=cst(2026, 10, 8, 9))


def test_figures_of_the_month(api: Any) -> None:
    build_month(api)
    d = data_for(api)
    f = d.figures
    cal = runtime(api.app.state.settings).calendar
    workdays = sum(cal.is_workday(date(2026, 9, i)) for i in range(1, 31))
    assert workdays == 22  # 中秋节 2026-09-25 off, 2026-09-20 a working Sunday
    assert f["hosts"] == 2 and f["systems"] == 3
    assert f["runs"] == 30 * 24 * 3
    assert f["availability"] == {"voucher": 99.72, "seal": 100.0, "mq": None, "os": 100.0}
    assert f["availability_work"]["voucher"] == round(100 * (1 - 7200 / (workdays * 9 * 3600)), 2) == 98.99
    assert f["tickets"] == 6 and f["tickets_resolved"] == 6 and f["anomalies"] == 2
    assert f["sla_met_pct"] == 75.0  # T1, T2, T4 met; T3 breached
    assert f["response_median_h"] == 1.25 and f["response_worst_h"] == 3.5
    assert f["resolution_median_h"] == 2.5 and f["resolution_worst_h"] == 9.0
    assert f["staff"] == {"张工": "较好", "李工": "一般", "王工": "好"}
    assert f["satisfaction_tickets_pct"] == 75.0
    assert f["satisfaction_visits_pct"] == 100.0
    assert f["satisfaction_pct"] == 85.71

    systems = {row[0]: row for row in d.table("systems").rows}
    assert systems["电子凭证库"][3] == 2  # bad runs
    assert systems["电子凭证库"][6:8] == [10, 2]  # critical / warning log events
    assert systems["操作系统"][9] == 1  # agent went silent once
    disk = d.table("disks").rows
    assert len(disk) == 1
    host, unit, mount, size, start, end, growth, growth_gib, free, slope, full = disk[0]
    assert (host, unit, mount, size) == ("web01", "某市财政局", "/", 100.0)
    assert (start, end, growth, growth_gib, free, slope) == (50.0, 79.0, 29.0, 29.0, 21.0, 1.0)
    assert full == "2026-10-21"  # 50 % on 09-01, +1 point a day → 100 % 50 days later
    checks = d.table("checks").rows
    assert checks == [["电子凭证库", "voucher-log", "log", 1, 720, 0, 2, 0, 1]]
    numbers = [row[0] for row in d.table("tickets").rows]
    assert len(numbers) == 6 and all(n.startswith("FW-202609-") for n in numbers)
    visits = d.table("visits").rows
    assert [v[0] for v in visits] == ["2026-09-08", "2026-09-16", "2026-09-28"]
    assert visits[0][7] == numbers[0] and "工程师是否及时响应?: 是" in visits[0][4]

    city = data_for(api, "某市财政局")
    assert city.figures["hosts"] == 1 and city.figures["tickets"] == 4
    assert city.figures["staff"] == {"张工": "较好", "李工": "一般"}
    assert [v[0] for v in city.table("visits").rows] == ["2026-09-08", "2026-09-28"]
    assert city.figures["availability"]["seal"] is None


def test_formats(api: Any, tmp_path: Path) -> None:
    build_month(api)
    rt = runtime(api.app.state.settings)
    with api.app.state.read_sessionmaker() as db:
        xlsx = service.render(db=db, month=MONTH, unit="", fmt="xlsx", rt=rt, now=cst(2026, 10, 8, 9))
        pdf = service.render(db=db, month=MONTH, unit="", fmt="pdf", rt=rt, now=cst(2026, 10, 8, 9))
        html = service.render(db=db, month=MONTH, unit="", fmt="html", rt=rt, now=cst(2026, 10, 8, 9)).decode()

    wb = load_workbook(io.BytesIO(xlsx))
    assert wb.sheetnames == ["封面与概述", "概况", "主要指标与上月对比", "服务响应达标率", "响应超时明细",
                             "系统运行情况", "主机可用率", "本月中断与严重故障", "重复故障 TOP 10", "异常检查统计",
                             "空间使用情况", "服务单统计", "系统服务单", "人员情况统计表", "满意度", "用户回访统计表",
                             "空间使用趋势"]
    cover = [c.value for row in wb["封面与概述"].iter_rows() for c in row if c.value]
    assert cover[:2] == ["系统服务月报", "2026年9月（全部单位）"] and "本月概述" in cover and "签字确认" in cover
    ws = wb["概况"]
    assert ws["A2"].value == "项目" and ws["A3"].value == "报告月份" and ws["B3"].value == "2026年9月"
    staff = wb["人员情况统计表"]
    header = [c.value for c in staff[3]]
    assert header[:3] == ["姓名", "编号", "服务次数"]
    rows = {r[0]: r for r in staff.iter_rows(min_row=4, values_only=True)}
    assert rows["张工"][1] == "E01" and rows["张工"][2] == 2 and rows["张工"][-1] == "较好"
    tickets = wb["系统服务单"]
    assert [c.value for c in tickets[3]][:7] == ["编号", "工程师姓名", "工程师编号", "客户姓名", "客户单位",
                                                "客户房间号", "热线时间"]
    assert tickets.print_title_rows == "$3:$3" and int(tickets.page_setup.paperSize) == 9  # A4
    assert wb["空间使用情况"]["K4"].value == "2026-10-21"
    assert len(wb["空间使用趋势"]._charts) == 1

    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-1024:]
    out = tmp_path / "report.pdf"
    out.write_bytes(pdf)
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftotext, pdftoppm) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout
    for words in ("系统服务月报 2026年9月", "人员情况统计表", "用户回访统计表", "电子凭证库", "张工", "2026-10-21"):
        assert words in text, words
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(out), str(tmp_path / "page")],
                   check=True)
    png = next(tmp_path.glob("page*.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    assert "<title>系统服务月报 2026年9月</title>" in html and "人员情况统计表" in html and "<polyline" in html


def test_generated_on_the_first_working_day_once(api: Any) -> None:
    build_month(api)
    rt = runtime(api.app.state.settings)
    factory = api.app.state.sessionmaker
    with factory() as db:  # 2026-10-01 is National Day: not yet
        assert service.run_monthly(db=db, now=cst(2026, 10, 1, 9), rt=rt) == []
        assert service.run_monthly(db=db, now=cst(2026, 10, 7, 23, 59), rt=rt) == []
        db.commit()
    with factory() as db:
        made = service.run_monthly(db=db, now=cst(2026, 10, 8, 0, 30), rt=rt)
        db.commit()
    assert sorted((r.unit, r.format) for r in made) == [  # the report, and the month's 系统服务单 (forms)
        (u, f) for u in ("", "某县财政局", "某市财政局") for f in ("forms", "pdf", "xlsx")]
    with factory() as db:
        assert service.run_monthly(db=db, now=cst(2026, 10, 8, 1, 30), rt=rt) == []
        assert service.run_monthly(db=db, now=cst(2026, 10, 20, 1, 30), rt=rt) == []
        db.commit()
        assert db.query(Report).count() == 9

    listed = api.get("/api/v1/reports?month=2026-09", api.viewer_key)["items"]
    assert len(listed) == 9 and all(r["generated_by"] == "system" for r in listed)
    pdf = next(r for r in listed if r["unit"] == "某市财政局" and r["format"] == "pdf")
    got = api.client.get(pdf["download"], headers=api.h(api.viewer_key))
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert got.content.startswith(b"%PDF-") and len(got.content) == pdf["size"]
    forms = next(r for r in listed if r["unit"] == "某市财政局" and r["format"] == "forms")
    got = api.client.get(forms["download"], headers=api.h(api.viewer_key))
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert quote("系统服务单-2026-09-某市财政局.pdf") in got.headers["content-disposition"]


def test_api_generate_now_and_visits(api: Any) -> None:
    build_month(api)
    r = api.client.post("/api/v1/reports", headers=api.h(api.viewer_key),
                        json={"month": "2026-09", "unit": "", "format": "html"})
    assert r.status_code == 403
    r = api.client.post("/api/v1/reports", headers=api.h(api.engineer_key),
                        json={"month": "2026-13", "unit": "", "format": "html"})
    assert r.status_code == 422
    first = api.client.post("/api/v1/reports", headers=api.h(api.engineer_key),
                            json={"month": "2026-09", "unit": "某县财政局", "format": "html"})
    assert first.status_code == 201, first.text
    again = api.client.post("/api/v1/reports", headers=api.h(api.engineer_key),
                            json={"month": "2026-09", "unit": "某县财政局", "format": "html"})
    assert again.json()["id"] == first.json()["id"] and again.json()["generated_by"] == "zhang"
    page = api.client.get(first.json()["download"], headers=api.h(api.viewer_key))
    assert "某县财政局" in page.text and "王工" in page.text and "凭证库无法登录" not in page.text

    live = api.client.get("/api/v1/reports/view?month=2026-09&unit=某市财政局", headers=api.h(api.viewer_key))
    assert live.status_code == 200 and live.headers["content-type"].startswith("text/html")
    assert "人员情况统计表" in live.text and "凭证库无法登录" in live.text
    assert api.client.get("/api/v1/reports/view?month=09-2026", headers=api.h(api.viewer_key)).status_code == 422

    sept = api.get("/api/v1/visits?month=2026-09&unit=某市财政局", api.viewer_key)["items"]
    assert [v["date"] for v in sept] == ["2026-09-08", "2026-09-28"]
    assert sept[0]["engineer_name"] == "张工" and sept[0]["answers"][1]["answer"] == "已解决"
    bad = api.client.post("/api/v1/visits", headers=api.h(api.engineer_key), json={
        "date": "2026-09-01", "method": "短信", "satisfaction": "满意"})
    assert bad.status_code == 422
    viewer = api.client.post("/api/v1/visits", headers=api.h(api.viewer_key), json={
        "date": "2026-09-01", "method": "电话", "satisfaction": "满意"})
    assert viewer.status_code == 403


def test_engineer_rating_rule() -> None:
    assert builder.rate_engineer(9, 1, 0, sla_all_met=False) == "好"
    assert builder.rate_engineer(8, 1, 1, sla_all_met=True) == "较好"  # 80 % 满意, 90 % at least 基本满意
    assert builder.rate_engineer(1, 1, 1, sla_all_met=True) == "一般"
    assert builder.rate_engineer(0, 0, 0, sla_all_met=True) == "较好"
    assert builder.rate_engineer(0, 0, 0, sla_all_met=False) == "一般"


def test_the_job_announces_each_unit_once(db_url: str) -> None:
    from fastapi.testclient import TestClient

    from collector.app import create_app
    from collector.config import Settings
    from collector.hosts import service as hosts
    from collector.notifications.models import OutboxMessage

    settings = Settings(db_url=db_url, jobs_enabled=False, notify={
        "channels": [{"name": "hook", "type": "webhook", "url": "http://127.0.0.1:9/xunjian"}],
        "routes": [{"match": {"kind": ["report_ready"]}, "channels": ["hook"]}]})
    with TestClient(create_app(settings)) as client:
        factory = client.app.state.sessionmaker
        with factory() as db:
            hosts.enroll(db=db, name="web01", unit="某市财政局")
            db.commit()
        rt = runtime(settings)
        for _ in range(2):
            with factory() as db:
                service.run_monthly(db=db, now=cst(2026, 10, 8, 9), rt=rt, public_url="https://xj.example.cn")
                db.commit()
        with factory() as db:
            sent = [(m.channel, m.payload["unit"], m.payload["title"], m.payload["url"])
                    for m in db.query(OutboxMessage).order_by(OutboxMessage.id)]
    assert sent == [("hook", "", "系统服务月报 2026年9月 (全部单位) 已生成",
                     "https://xj.example.cn/api/v1/reports?month=2026-09"),
                    ("hook", "某市财政局", "系统服务月报 2026年9月 (某市财政局) 已生成",
                     "https://xj.example.cn/api/v1/reports?month=2026-09")]
