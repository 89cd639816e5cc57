"""A hotline call in a real browser (Debian's Chromium driven by Playwright) against a collector serving
on a port: an engineer takes the call with contact person and phone, escalates phone → remote → on
site, resolves with an entered 解决问题时间 and closes with the customer's rating; a call that is not
ours is handed to another department (已转交); an admin opens a 7×24 window and a call inside it runs on
clock hours. Each page is shot at 1024 and 1366 px into artifacts/screenshots/ and must not scroll
sideways."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from collector.hosts import service as hosts
from collector.users import service as users
from tests.conftest import REPO, free_port, wait_http
from tests.e2e.test_console_browser import ARGS, CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")
SHOTS = REPO / "artifacts" / "screenshots"
CST = ZoneInfo("Asia/Shanghai")
ENGINEER, ENGINEER_PW = "zhanggong", "zhang-secret-1"
ADMIN, ADMIN_PW = "liuzhuguan", "admin-secret-22"
WIDTHS = (1024, 1366)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="apt-get install chromium fonts-noto-cjk")]


def local_input(dt: datetime) -> str:
    return dt.astimezone(CST).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def console_url(tmp_path: Path) -> Iterator[str]:
    db_url = f"sqlite:///{tmp_path / 'xunjian.db'}"
    seed = create_app(Settings(db_url=db_url, jobs_enabled=False))
    with TestClient(seed), seed.state.sessionmaker() as db:
        users.add(db=db, name=ENGINEER, role="engineer", display_name="张工", number="E07", password=ENGINEER_PW)
        users.add(db=db, name=ADMIN, role="admin", display_name="刘主管", number="A01", password=ADMIN_PW)
        hosts.enroll(db=db, name="czj-seal01", unit="某市财政局", room="301")
        db.commit()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(db_url=db_url, jobs_enabled=False)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_http(f"http://127.0.0.1:{port}/healthz")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def login(browser: Any, base: str, name: str, password: str, width: int = 1366) -> Any:
    page = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN", base_url=base).new_page()
    page.goto("/console/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button:has-text('登录')")
    page.wait_for_url(re.compile(r"/console/$"))
    return page


def shots(page: Any, name: str) -> None:
    """The current page at both office screen widths; neither may scroll sideways."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{name}: {scroll}px wide at {width}px, the page scrolls sideways"
    page.set_viewport_size({"width": 1366, "height": 800})


def take_call(page: Any, description: str, called: datetime | None = None) -> None:
    page.goto("/console/tickets/new")
    assert "张工" in page.inner_text(".taker") and "E07" in page.inner_text(".taker")
    page.select_option("select[name=channel]", "phone")
    page.fill("input[name=customer_name]", "赵会计")
    page.fill("input[name=customer_unit]", "某市财政局")
    page.fill("input[name=room]", "205")
    page.fill("input[name=contact_person]", "钱主任")
    page.fill("input[name=contact_phone]", "0571-8765 4321 转 806")
    if called is not None:
        page.fill("input[name=reported_at]", local_input(called))
    page.select_option("select[name=system]", "seal")
    page.fill("input[name=host]", "czj-seal01")
    page.fill("textarea[name=description]", description)


def submit_call(page: Any) -> None:
    page.click("button:has-text('提交')")
    page.wait_for_url(re.compile(r"/console/tickets/\d+$"))


def test_a_hotline_call_end_to_end(console_url: str, browser: Any) -> None:
    page = login(browser, console_url, ENGINEER, ENGINEER_PW)
    called = datetime.now(CST) - timedelta(hours=1)
    take_call(page, "电子印章系统盖章失败, 提示证书无效", called)
    shots(page, "desk-intake")
    page.fill("input[name=contact_phone]", "138-abc")  # a typo the form refuses, keeping what was typed
    page.click("button:has-text('提交')")
    assert "联系电话只能包含" in page.inner_text(".alert.error")
    assert page.input_value("input[name=contact_person]") == "钱主任"
    page.fill("input[name=contact_phone]", "0571-8765 4321 转 806")
    submit_call(page)
    ticket_url = page.url
    fields = page.inner_text("dl.fields")
    assert "钱主任" in fields and "0571-8765 4321 转 806" in fields and "张工 (E07)" in fields

    for step, note in (("电话支持", "电话指导客户重新登录"), ("远程支持", "远程检查: 签章证书已过期"),
                       ("现场支持", "现场更换签章证书")):
        page.fill("#support-note", note)
        page.click(f"form.support button:has-text('{step}')")
        page.wait_for_load_state()
        assert f"张工 · {step}" in page.inner_text("ul.timeline") and note in page.inner_text("ul.timeline")
    assert "处理中" in page.inner_text("h1") and "现场支持" in page.inner_text("dl.fields")
    shots(page, "desk-ticket-support")

    resolved = datetime.now(CST) - timedelta(minutes=20)
    page.fill("textarea[name=resolution]", "签章证书过期, 现场更换证书后盖章正常")
    page.fill("input[name=resolved_at]", local_input(resolved))
    page.click("button:has-text('解决')")
    page.wait_for_load_state()
    assert "已解决" in page.inner_text("h1")
    shown = resolved.strftime("%Y-%m-%d %H:%M")
    assert shown in page.inner_text("dl.fields")
    assert f"→ {shown}" in page.inner_text("ul.timeline") and "张工 · 修改解决时间" in page.inner_text("ul.timeline")

    page.check("input[name=satisfaction][value=基本满意]")
    page.fill("input[name=comment]", "处理及时")
    page.click("form[action$='/close'] button")
    page.wait_for_load_state()
    assert "已关闭" in page.inner_text("h1") and "基本满意 · 处理及时" in page.inner_text("dl.fields")
    shots(page, "desk-ticket-closed")

    page.goto(ticket_url + "/print")
    paper = page.inner_text(".paper")
    assert "钱主任" in paper and "0571-8765 4321 转 806" in paper and "☑ 基本满意" in paper and shown in paper
    assert "☑ 电话支持" in paper and "☑ 远程支持" in paper and "☑ 现场支持" in paper
    shots(page, "desk-print")


def test_a_call_handed_to_another_department(console_url: str, browser: Any) -> None:
    page = login(browser, console_url, ENGINEER, ENGINEER_PW)
    take_call(page, "办公电脑无法访问外网")
    submit_call(page)
    page.fill("input[name=department]", "网络中心")
    page.fill("form[action$='/handoff'] input[name=note]", "已告知客户联系网络中心王工 (分机 8123)")
    page.click("form[action$='/handoff'] button")
    page.wait_for_load_state()
    assert "已转交" in page.inner_text("h1")
    box = page.inner_text(".handoff")
    assert "已转交 网络中心" in box and "分机 8123" in box and "不计入本方响应时限" in box
    assert "不计（已转交）" in page.inner_text("dl.fields")
    assert "张工 · 转交" in page.inner_text("ul.timeline")
    shots(page, "desk-ticket-handoff")
    page.goto("/console/tickets?status=handed_off")
    assert page.locator("tr", has_text="转交 网络中心").count() == 1


def test_an_admin_opens_a_7x24_window(console_url: str, browser: Any) -> None:
    admin = login(browser, console_url, ADMIN, ADMIN_PW)
    now = datetime.now(CST)
    admin.click("nav >> text=7×24 窗口")
    admin.select_option("select[name=kind]", "incident")
    admin.fill("input[name=title]", "电子印章系统故障处理")
    admin.fill("input[name=unit]", "某市财政局")
    admin.fill("input[name=starts_at]", local_input(now - timedelta(hours=1)))
    admin.fill("input[name=ends_at]", local_input(now + timedelta(hours=6)))
    admin.click("button:has-text('开启窗口')")
    admin.wait_for_load_state()
    row = admin.locator("tr", has_text="电子印章系统故障处理")
    assert row.locator("text=进行中").count() == 1 and row.locator("text=刘主管").count() == 1
    shots(admin, "desk-support-windows")

    page = login(browser, console_url, ENGINEER, ENGINEER_PW)
    take_call(page, "故障期间: 盖章服务无响应")
    submit_call(page)
    assert "7×24（故障处理窗口）" in page.inner_text("dl.fields")
    page.goto("/console/support-windows")
    assert page.locator("button:has-text('开启窗口')").count() == 0 and "只有管理员" in page.inner_text("main")
