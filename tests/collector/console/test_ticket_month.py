"""One notion of the month of a ticket in the console: its call time (热线时间), as the monthly report
and the forms count it — a call taken on the last evening of a month and entered the next morning
belongs to the month of the call."""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.collector.console.conftest import Console
from tests.collector.console.test_pages import new_case, ticket

CST = timezone(timedelta(hours=8))


def test_month_filter_list_and_forms_use_the_call_time(console: Console, tmp_path: Path) -> None:
    now = datetime.now(CST)
    call = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=1)  # last month, 23:00
    last_month, this_month = f"{call:%Y-%m}", f"{now:%Y-%m}"
    b = console.browser()
    b.login("zhang")
    tid = new_case(b, description="月末夜间来电", reported_at=call.strftime("%Y-%m-%dT%H:%M"))
    number = ticket(console, tid).number

    listed = b.get(f"/console/tickets?month={last_month}").text
    assert "共 1 张" in listed and number in listed and call.strftime("%Y-%m-%d %H:%M") in listed
    assert "热线时间" in listed
    assert "共 0 张" in b.get(f"/console/tickets?month={this_month}").text  # entered this month, called last

    v = console.browser()
    v.login("viewer")
    assert "下载本月系统服务单" in v.get("/console/reports").text
    got = v.get(f"/console/reports/forms?month={last_month}&unit=某县财政局")
    assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
    assert "attachment" in got.headers["content-disposition"] and got.content.startswith(b"%PDF-")
    assert v.get("/console/reports/forms?month=2026-13").status_code == 422
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) is not installed")
    out = tmp_path / "forms.pdf"
    out.write_bytes(got.content)
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                                             check=True).stdout)
    assert f"编号:{number}" in text and "月末夜间来电" in text and text.count("系统服务单") >= 1
    empty = v.get(f"/console/reports/forms?month={this_month}")
    out.write_bytes(empty.content)
    assert "本月没有系统服务单" in subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True,
                                                check=True).stdout
