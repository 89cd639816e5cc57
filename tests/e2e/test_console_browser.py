"""The console in a real browser (Debian's Chromium driven by Playwright) against real collector and
agent processes: an engineer sees the agent's ticket, acknowledges and resolves it; a viewer cannot
change it; a form without its CSRF token is refused. Screenshots of the main pages go to
artifacts/screenshots/ (1366×768, the office laptop)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, bin_path, free_port, run_cli, wait_http

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--lang=zh-CN",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = REPO / "artifacts" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}
ENGINEER, ENGINEER_PW = "zhanggong", "zhang-secret-1"
VIEWER, VIEWER_PW = "manager", "viewer-secret-2"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="apt-get install chromium fonts-noto-cjk")]


def add_user(env: dict[str, str], name: str, role: str, password: str, display: str, number: str) -> None:
    subprocess.run([bin_path("xunjian-collector"), "user", "add", name, "--role", role, "--display-name", display,
                    "--number", number, "--password-stdin"], input=password + "\n", text=True, check=True,
                   capture_output=True, env={**os.environ, **env}, timeout=120)


class Stack:
    """A collector (tickets stay open until an engineer resolves them) and an agent whose log check
    keeps finding ERROR lines."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        db_url = f"sqlite:///{tmp / 'xunjian.db'}"
        env = {"XUNJIAN_DB_URL": db_url}
        self.token = token = run_cli(bin_path("xunjian-collector"), "agent", "enroll", "e2e-host", "--unit", "测试单位",
                        "--room", "301", env=env).strip().splitlines()[-1]
        add_user(env, ENGINEER, "engineer", ENGINEER_PW, "张工", "E07")
        add_user(env, VIEWER, "viewer", VIEWER_PW, "王经理", "M01")
        config = tmp / "collector.yaml"
        config.write_text("tickets: {auto_resolve: false}\njob_interval_seconds: 2\n", encoding="utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.collector_log = open(tmp / "collector.log", "wb")
        self.collector = subprocess.Popen([bin_path("xunjian-collector"), "serve", "--db", db_url, "--port",
                                           str(self.port), "--config", str(config)],
                                          stdout=self.collector_log, stderr=subprocess.STDOUT)
        wait_http(self.url + "/healthz")
        logs = tmp / "logs"
        logs.mkdir()
        self.app_log = logs / "voucher.log"
        self.app_log.write_bytes(b"")
        agent_cfg = tmp / "agent.yaml"
        agent_cfg.write_text(f"""
collector: {{url: "{self.url}", token: "{token}"}}
host: {{name: e2e-host, labels: {{unit: 测试单位, room: "301"}}}}
state_dir: {tmp / 'state'}
checks:
  - {{name: voucher-log, type: log, system: voucher, interval: 1s, paths: ["{logs}/*.log"], encoding: gbk,
     from: end, patterns: {{critical: ["ERROR", "凭证发送失败"], warning: ["WARN"]}}}}
  - {{name: root-disk, type: disk, system: os, interval: 2s, mounts: ["/"]}}
""", encoding="utf-8")
        self.agent_log = open(tmp / "agent.log", "wb")
        self.agent = subprocess.Popen([bin_path("xunjian-agent"), "run", "--config", str(agent_cfg)],
                                      stdout=self.agent_log, stderr=subprocess.STDOUT)
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._write_errors, daemon=True)
        self._writer.start()

    def seed_disk_history(self, days: int = 7) -> None:
        """A week of /data usage growing towards its threshold, sent as the agent would send it."""
        from checks.model import Metric, Result, Status

        now = datetime.now(timezone.utc)
        results = []
        for h in range(days * 24, 0, -2):
            used = 60.0 + (days * 24 - h) * 0.08 + (3.0 if h % 24 < 4 else 0.0)  # stays below 80
            results.append(Result(host="e2e-host", check="data-disk", system="os", type="disk",
                                  status=Status.WARNING if used >= 80 else Status.OK, summary=f"/data 已用 {used:.0f}%",
                                  started_at=now - timedelta(hours=h), duration=0.01,
                                  metrics=[Metric("used_percent:/data", round(used, 1), "%", warn="80", crit="90")]))
        body = json.dumps({"agent": {"host": "e2e-host"}, "results": [r.to_dict() for r in results]}).encode()
        req = urllib.request.Request(self.url + "/api/v1/results", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert json.load(r)["accepted"] == len(results)

    def _write_errors(self) -> None:
        i = 0
        while not self._stop.wait(0.7):
            with open(self.app_log, "ab") as f:
                f.write(f"2026-11-25 10:00:{i % 60:02d} ERROR 凭证发送失败 id={i}\n".encode("gbk"))
            i += 1

    def stop(self) -> None:
        self._stop.set()
        for proc in (self.agent, self.collector):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
        self.agent_log.close()
        self.collector_log.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"{name}: page is {width}px wide, wider than the laptop screen"


def login(browser: Any, base: str, name: str, password: str, screenshot: bool = False) -> Any:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=base)
    page = context.new_page()
    page.goto("/console/")
    assert "/console/login" in page.url
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    if screenshot:
        shot(page, "login")
    page.click("button:has-text('登录')")
    page.wait_for_url(re.compile(r"/console/$"))
    return page


def wait_for_ticket(page: Any, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto("/console/")
        rows = page.locator("section:has(h2:has-text('处理中的服务单')) tr", has_text="voucher-log")
        if rows.count():
            return rows.first.locator("a", has_text="FW-").inner_text()
        time.sleep(1)
    raise AssertionError("the agent's ticket did not reach the dashboard")


def test_engineer_works_the_agents_ticket_in_the_browser(stack: Stack, browser: Any) -> None:
    stack.seed_disk_history()
    page = login(browser, stack.url, ENGINEER, ENGINEER_PW, screenshot=True)
    number = wait_for_ticket(page)
    time.sleep(2.5)  # let the disk check report so the dashboard shows its bar
    page.goto("/console/")
    assert page.locator("text=e2e-host").count() and page.locator("text=测试单位").count()
    assert page.locator("svg.bar").count() >= 1 and page.locator("text=● 在线").count()
    assert page.locator("header").inner_text().count("张工") == 1
    shot(page, "dashboard")

    page.click("nav >> text=服务单")
    row = page.locator("tr", has_text=number)
    assert row.count() == 1 and "待响应" in row.inner_text() and "e2e-host" in row.inner_text()
    shot(page, "tickets")

    row.locator("a", has_text=number).click()
    page.wait_for_url(re.compile(r"/console/tickets/\d+$"))
    ticket_url = page.url
    assert "voucher-log" in page.locator("h1 + p").inner_text() and "严重" in page.locator("h1").inner_text()
    page.click("button:has-text('响应')")
    page.wait_for_load_state()
    assert "处理中" in page.locator("h1").inner_text()
    page.fill("textarea[name=resolution]", "凭证发送失败: 前置机证书过期, 已更新证书并重发凭证")
    page.click("button:has-text('解决')")
    page.wait_for_load_state()
    assert "已解决" in page.locator("h1").inner_text()
    timeline = page.locator("ul.timeline").inner_text()
    assert "张工 · 响应" in timeline and "张工 · 已解决" in timeline and "系统 · 受理" in timeline
    assert "已更新证书并重发凭证" in timeline
    shot(page, "ticket")

    page.click("text=打印服务单")
    page.wait_for_url(re.compile(r"/print$"))
    paper = page.inner_text(".paper")
    assert number in paper and "张工" in paper and "E07" in paper and "已更新证书" in paper
    shot(page, "print")
    page.emulate_media(media="print")
    assert not page.locator(".printbar").is_visible()
    page.emulate_media(media="screen")

    page.goto("/console/hosts/e2e-host")
    assert page.locator("text=voucher-log").count() and page.locator("text=root-disk").count()
    assert page.locator("svg.chart polyline").count() == 2  # / from the agent, /data from its history
    shot(page, "host")

    page.goto("/console/tickets/new")
    page.select_option("select[name=channel]", "phone")
    page.fill("input[name=customer_name]", "赵会计")
    page.fill("input[name=customer_unit]", "测试单位")
    page.fill("input[name=room]", "205")
    page.select_option("select[name=system]", "seal")
    page.fill("input[name=host]", "e2e-host")
    page.fill("textarea[name=description]", "电子印章系统盖章失败, 提示证书无效")
    shot(page, "new-case")
    page.click("button:has-text('提交')")
    page.wait_for_url(re.compile(r"/console/tickets/\d+$"))
    assert "赵会计" in page.inner_text("body") and "电话" in page.inner_text("body")

    page.goto("/console/maintenance")
    local = datetime.now(timezone(timedelta(hours=8)))
    page.fill("input[name=title]", "凭证库版本升级")
    page.fill("input[name=unit]", "测试单位")
    page.fill("input[name=starts_at]", (local + timedelta(days=1)).strftime("%Y-%m-%dT20:00"))
    page.fill("input[name=ends_at]", (local + timedelta(days=1)).strftime("%Y-%m-%dT23:00"))
    page.click("button:has-text('创建')")
    page.wait_for_load_state()
    assert page.locator("tr", has_text="凭证库版本升级").count() == 1
    shot(page, "maintenance")

    page.goto("/console/reports")
    if page.locator("text=报表模块尚未启用").count():
        shot(page, "reports")
    else:
        page.fill("input[name=month]", local.strftime("%Y-%m"))
        page.select_option("select[name=format]", "html")
        page.click("button:has-text('生成')")
        page.wait_for_load_state()
        shot(page, "reports")
        with page.expect_download() as dl:
            page.locator("tr", has_text=local.strftime("%Y-%m")).locator("a", has_text="下载").first.click()
        report = Path(dl.value.path()).read_text(encoding="utf-8")
        assert number in report, "the resolved ticket is not in the month's report"

    # A form posted without its CSRF token is refused, even with a valid session cookie.
    forged = page.context.request.post(ticket_url + "/reopen", form={"note": "x"})
    assert forged.status == 403 and "CSRF" in forged.text()
    page.goto(ticket_url)
    assert "已解决" in page.locator("h1").inner_text()


def test_viewer_cannot_change_a_ticket(stack: Stack, browser: Any) -> None:
    eng = login(browser, stack.url, ENGINEER, ENGINEER_PW)
    wait_for_ticket(eng)
    page = login(browser, stack.url, VIEWER, VIEWER_PW)
    page.goto("/console/tickets?status=active")
    page.locator("tr", has_text="voucher-log").locator("a", has_text="FW-").click()
    page.wait_for_url(re.compile(r"/console/tickets/\d+$"))
    assert page.locator("main button").count() == 0  # no action buttons (logout is in the header)
    assert "只读账号" in page.inner_text("aside")
    assert page.locator("nav >> text=登记服务单").count() == 0
    csrf = page.locator("header input[name=csrf]").get_attribute("value")
    # A forged POST with the viewer's own valid session and CSRF token is still refused.
    r = page.context.request.post(page.url + "/acknowledge", form={"csrf": csrf, "note": "x"})
    assert r.status == 403 and "只读账号" in r.text()
    page.reload()
    assert "待响应" in page.locator("h1").inner_text()
