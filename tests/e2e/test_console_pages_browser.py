"""The desk's pages in Chromium at the offices' two screen widths (1024 and 1366 px): host list, return
visits, users and API keys, notification channels, each as the roles that may see it, with no sideways
scrolling; an admin adds a user and an engineer records a return visit through the forms; the dashboard
warns that no notification channel is configured. Screenshots go to artifacts/screenshots/."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from collector.users import service as users
from tests.conftest import REPO, free_port, wait_http
from tests.e2e.test_console_browser import ARGS, CHROMIUM
from tests.e2e.test_console_layout import seed

playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")
SHOTS = REPO / "artifacts" / "screenshots"
PASSWORDS = {"zhang": "zhang-secret-1", "boss": "boss-secret-22", "wangjl": "viewer-secret-3"}
PAGES = {"hosts": "/console/hosts", "hosts-filtered": "/console/hosts?status=problem&system=voucher",
         "visits": "/console/visits", "users": "/console/users", "channels": "/console/channels"}
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="apt-get install chromium fonts-noto-cjk")]


@pytest.fixture(scope="module")
def console_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'xunjian.db'}"
    seed(db_url)
    app = create_app(Settings(db_url=db_url, jobs_enabled=False))
    with TestClient(app), app.state.sessionmaker() as db:
        users.add(db=db, name="boss", role="admin", display_name="刘主任", number="A01", password=PASSWORDS["boss"])
        users.add(db=db, name="wangjl", role="viewer", display_name="王经理", number="M01",
                  password=PASSWORDS["wangjl"])
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def login(browser: Any, base: str, name: str, width: int = 1366) -> Any:
    page = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN", base_url=base).new_page()
    page.goto("/console/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button:has-text('登录')")
    page.wait_for_url(re.compile(r"/console/$"))
    return page


def fits(page: Any, name: str, width: int) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} scrolls sideways at {width}px"


@pytest.mark.parametrize("width", [1024, 1366])
def test_every_new_page_fits_the_screen(console_url: str, browser: Any, width: int) -> None:
    page = login(browser, console_url, "boss", width)
    nav = page.locator("header nav").inner_text()
    assert all(word in nav for word in ("主机", "回访", "通知", "用户"))
    assert "未配置任何通知通道" in page.locator("main").inner_text()  # the default setup: nobody is told
    fits(page, "dashboard-warning", width)
    for name, path in PAGES.items():
        page.goto(path)
        assert page.locator("header").count() == 1 and "没有这个页面" not in page.content(), path
        fits(page, name, width)
    page.goto("/console/hosts")
    assert page.locator("tbody tr").count() == 9 and "共 9 台" in page.locator("h2").inner_text()


def test_roles_see_the_pages_they_may(console_url: str, browser: Any) -> None:
    viewer = login(browser, console_url, "wangjl")
    nav = viewer.locator("header nav").inner_text()
    assert "主机" in nav and "回访" in nav and "通知" not in nav and "用户" not in nav
    for path, ok in (("/console/hosts", True), ("/console/visits", True), ("/console/users", False),
                     ("/console/channels", False)):
        response = viewer.goto(path)
        assert (response.status == 200) is ok, path
    assert viewer.locator("form[action='/console/visits']").count() == 0
    engineer = login(browser, console_url, "zhang")
    nav = engineer.locator("header nav").inner_text()
    assert "通知" in nav and "用户" not in nav
    assert engineer.goto("/console/users").status == 403
    assert engineer.goto("/console/channels").status == 200


def test_admin_adds_a_user_and_engineer_records_a_visit(console_url: str, browser: Any) -> None:
    admin = login(browser, console_url, "boss")
    admin.goto("/console/users")
    admin.fill("input[name=name]", "sunwei")
    admin.fill("input[name=display_name]", "孙伟")
    admin.fill("input[name=number]", "E12")
    admin.select_option("select[name=role]", "engineer")
    admin.click("button:has-text('添加')")
    admin.wait_for_load_state()
    secret = admin.locator("pre.secret").inner_text()
    password = re.match(r"密码: (\S+)", secret).group(1)
    assert "sunwei" in admin.locator("table").inner_text()
    fits(admin, "users-added", 1366)

    PASSWORDS["sunwei"] = password
    page = login(browser, console_url, "sunwei", 1024)
    assert "孙伟 (E12)" in page.locator("header").inner_text()
    page.goto("/console/visits")
    page.fill("input[name=unit]", "某市财政局")
    page.fill("input[name=customer_name]", "赵会计")
    page.select_option("select[name=method]", "电话")
    for i in range(5):
        page.check(f"input[name=q{i}][value='满意']")
    page.check("input[name=satisfaction][value='基本满意']")
    page.fill("textarea[name=comment]", "希望月报更早发出")
    page.click("button:has-text('保存回访记录')")
    page.wait_for_url(re.compile(r"saved=1"))
    stats = page.locator("section:has(h2:has-text('用户回访统计表'))").inner_text()
    assert "某市财政局" in stats and "100.0%" in stats and "基于 1 个评价" in stats
    records = page.locator("section:has(h2:has-text('本月回访记录'))").inner_text()
    assert "孙伟" in records and "希望月报更早发出" in records
    fits(page, "visits-recorded", 1024)
    page.set_viewport_size({"width": 1366, "height": 800})
    page.reload()
    fits(page, "visits-recorded", 1366)
    page.click("a:has-text('调查表')")
    page.wait_for_url(re.compile(r"/console/visits/\d+/print$"))
    paper = page.locator(".paper").inner_text()
    assert "客户满意度调查表" in paper and "☑ 基本满意" in paper and "希望月报更早发出" in paper
    fits(page, "visit-print", 1366)


@pytest.fixture(scope="module")
def channels_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """A collector whose notify config has a working webhook and one whose receiver answers 503."""
    from tests.helpers.notify_servers import FakeService, Reply, scripted, webhook_receiver

    db_url = f"sqlite:///{tmp_path_factory.mktemp('channels') / 'xunjian.db'}"
    seed(db_url)
    with FakeService(webhook_receiver(token="hook-token-1")) as good, \
            FakeService(scripted(Reply(status=503, body={"error": "维护中"}))) as bad:
        notify = {"channels": [
            {"name": "ops-hook", "type": "webhook", "url": good.url + "/hook", "token": "hook-token-1"},
            {"name": "robot-backup", "type": "webhook", "url": bad.url + "/hook?access_token=s3cret", "timeout": "3s"}],
            "routes": [{"channels": ["ops-hook", "robot-backup"]}]}
        settings = Settings(db_url=db_url, jobs_enabled=False, notify=notify)
        app = create_app(settings)
        with TestClient(app), app.state.sessionmaker() as db:
            users.add(db=db, name="boss", role="admin", display_name="刘主任", number="A01", password=PASSWORDS["boss"])
            db.commit()
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", good
        server.should_exit = True
        thread.join(timeout=20)


def test_channels_state_test_send_and_failing_warning(channels_url: tuple[str, Any], browser: Any) -> None:
    url, good = channels_url
    page = login(browser, url, "boss")
    assert "未配置任何通知通道" not in page.locator("main").inner_text()
    page.goto("/console/channels")
    page.locator("tr", has_text="ops-hook").locator("button:has-text('发送测试消息')").click()
    page.wait_for_load_state()
    assert "测试消息已通过 ops-hook 发出" in page.locator("main").inner_text() and len(good.requests) == 1
    for _ in range(3):
        page.locator("tr", has_text="robot-backup").locator("button:has-text('发送测试消息')").click()
        page.wait_for_load_state()
        assert "测试消息发送失败 (robot-backup)" in page.locator("main").inner_text()
    row = page.locator("tr", has_text="robot-backup").inner_text()
    assert "连续失败 3 次" in row and "s3cret" not in page.content()
    for width in (1024, 1366):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto("/console/channels")
        fits(page, "channels-configured", width)
    page.goto("/console/")
    assert "通知通道 robot-backup 最近连续 3 次以上发送失败" in page.locator("main").inner_text()


@pytest.fixture(scope="module")
def fleet_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """600 hosts in 12 units (beyond the dashboard's full list): a few offline, a few with a failing check."""
    import uuid

    import sqlalchemy as sa

    from collector.db import utcnow
    from collector.hosts.models import Host
    from collector.results.models import CheckState

    db_url = f"sqlite:///{tmp_path_factory.mktemp('fleet') / 'xunjian.db'}"
    seed(db_url)
    settings = Settings(db_url=db_url, jobs_enabled=False)
    app = create_app(settings)
    now = utcnow()
    with TestClient(app), app.state.sessionmaker() as db:
        users.add(db=db, name="boss", role="admin", display_name="刘主任", number="A01", password=PASSWORDS["boss"])
        db.execute(sa.insert(Host), [
            {"name": f"fin{i % 12:02d}-app{i:03d}", "unit": f"第{i % 12 + 1}区财政局", "room": str(200 + i % 30),
             "labels": {}, "enrolled_at": now, "last_seen_at": now, "agent_version": "1.0", "heartbeat_seconds": 30.0,
             "online": i % 97 != 5, "dropped_total": 0, "rejected_total": 0} for i in range(600)])
        ids = list(db.scalars(sa.select(Host.id).where(Host.name.like("fin%")).order_by(Host.id)))
        db.execute(sa.insert(CheckState), [
            {"host_id": hid, "check": check, "type": typ, "system": system,
             "status": 2 if (typ == "log" and n % 41 == 3) else 1 if (typ == "disk" and n % 53 == 7) else 0,
             "summary": "", "metrics": [{"name": "used_percent:/", "value": 40.0 + n % 50, "warn": "80", "crit": "90"}]
             if typ == "disk" else [], "last_result_id": uuid.uuid4(), "last_started_at": now, "consecutive_bad": 0,
             "consecutive_ok": 1, "status_changes": 0, "since": now}
            for n, hid in enumerate(ids) for check, typ, system in (("root-disk", "disk", "os"),
                                                                    ("voucher-log", "log", "voucher"))])
        db.commit()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_http(f"http://127.0.0.1:{port}/healthz")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.mark.parametrize("width", [1024, 1366])
def test_dashboard_and_host_list_at_fleet_size(fleet_url: str, browser: Any, width: int) -> None:
    page = login(browser, fleet_url, "boss", width)
    main = page.locator("main").inner_text()
    assert "各单位主机" in main and "需要关注的主机" in main and "609" in page.locator(".stats").inner_text()
    fits(page, "dashboard-fleet", width)
    page.locator("a", has_text="第3区财政局").first.click()
    page.wait_for_load_state()
    assert "共 50 台" in page.locator("h2").inner_text()
    page.fill("input[name=q]", "app1")
    page.click("button:has-text('筛选')")
    page.wait_for_load_state()
    assert "unit=" in page.url and "q=app1" in page.url
    page.goto("/console/hosts?page=5")
    assert "第 5 / 13 页" in page.locator(".pager").inner_text()
    fits(page, "hosts-fleet", width)


EVERY_PAGE = {"tickets": "/console/tickets?status=active", "ticket-new": "/console/tickets/new",
              "maintenance": "/console/maintenance", "support-windows": "/console/support-windows",
              "reports": "/console/reports", "calendar": "/console/calendar", "templates": "/console/templates"}


@pytest.mark.parametrize("width", [1024, 1366])
def test_every_console_page_fits_the_screen(console_url: str, browser: Any, width: int) -> None:
    """Each page the top bar or a list leads to, as the admin (who sees them all), at both widths."""
    page = login(browser, console_url, "boss", width)
    for name, path in EVERY_PAGE.items():
        page.goto(path)
        assert page.locator("header").count() == 1 and "没有这个页面" not in page.content(), path
        fits(page, f"every-{name}", width)
    page.goto("/console/tickets?status=active")
    ticket = page.locator("a[href^='/console/tickets/']").filter(has_text=re.compile(r"^FW-")).first
    ticket_path = ticket.get_attribute("href")
    page.goto("/console/hosts")
    host_path = page.locator("tbody a[href^='/console/hosts/']").first.get_attribute("href")
    for name, path in (("ticket", ticket_path), ("ticket-print", f"{ticket_path}/print"), ("host", host_path)):
        page.goto(path)
        assert "没有这个页面" not in page.content(), path
        fits(page, f"every-{name}", width)
    page.context.clear_cookies()
    page.goto("/console/login")
    fits(page, "every-login", width)
