"""The dashboard at the two screens the offices use (1024 px and 1366 px wide) with a realistic load: three
units' hosts, a dozen open tickets with long titles. No sideways scrolling, and the ticket titles get room
(they wrapped every ~12 characters next to the host table). Screenshots go to artifacts/screenshots/."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from checks.model import Metric, Result, Status
from collector.app import create_app
from collector.config import Settings
from collector.hosts import service as hosts
from collector.users import service as users
from tests.conftest import REPO, free_port, wait_http
from tests.e2e.test_console_browser import ARGS, CHROMIUM

playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")
SHOTS = REPO / "artifacts" / "screenshots"
PASSWORD = "zhang-secret-1"
UNITS = {"某市财政局": ["czj-voucher01", "czj-voucher02", "czj-seal01", "czj-mq01"],
         "某县财政局": ["xcz-app01", "xcz-app02", "xcz-mq01"], "某区国库支付中心": ["gk-voucher01", "gk-seal01"]}
TITLES = ["电子凭证库向人民银行发送凭证失败, 报错 连接超时 (凭证批次 2026120600123)",
          "电子印章系统签章服务无响应, 财务人员无法在支付凭证上加盖电子印章",
          "消息中间件队列 voucher.in 积压 12000 条, 消费者数为 0",
          "客户来电: 凭证库客户端登录后白屏, 清除缓存无效"]


def seed(db_url: str) -> None:
    app = create_app(Settings(db_url=db_url, jobs_enabled=False))
    with TestClient(app) as client, app.state.sessionmaker() as db:
        users.add(db=db, name="zhang", role="engineer", display_name="张工", number="E01", password=PASSWORD)
        _, key = users.add(db=db, name="admin", role="admin")
        tokens = {name: hosts.enroll(db=db, name=name, unit=unit, room="301")[1]
                  for unit, names in UNITS.items() for name in names}
        db.commit()
        now = datetime.now(timezone.utc)
        for i, (name, token) in enumerate(tokens.items()):
            status = [Status.OK, Status.WARNING, Status.CRITICAL, Status.UNKNOWN][i % 4]
            results = [Result(host=name, check="root-disk", system="os", type="disk", status=Status.OK,
                              summary="/ 已用 40%", started_at=now - timedelta(minutes=1), duration=0.01,
                              metrics=[Metric("used_percent:/", 40.0 + 5 * i, "%", warn="80", crit="90"),
                                       Metric("used_percent:/data/voucher", 60.0 + 3 * i, "%", warn="80", crit="90")]),
                       Result(host=name, check="voucher-log", system="voucher", type="log", status=status,
                              summary="发现严重错误", started_at=now - timedelta(minutes=1), duration=0.01,
                              metrics=[Metric("critical_events", 2)])]
            body = {"agent": {"host": name}, "results": [r.to_dict() for r in results]}
            assert client.post("/api/v1/results", json=body, headers={"Authorization": f"Bearer {token}"}).is_success
        for i in range(12):
            unit = list(UNITS)[i % 3]
            body = {"channel": "phone", "customer_unit": unit, "customer_name": "赵会计", "system": "voucher",
                    "description": TITLES[i % 4], "host": UNITS[unit][0],
                    "reported_at": (now - (timedelta(seconds=i) if i < 4 else timedelta(hours=3 * i))).isoformat()}
            r = client.post("/api/v1/tickets", json=body, headers={"Authorization": f"Bearer {key}"})
            assert r.status_code == 201, r.text
            if i < 4:  # a few (called just now: this month) closed with the customer's rating
                url, auth = f"/api/v1/tickets/{r.json()['id']}", {"Authorization": f"Bearer {key}"}
                assert client.patch(url, json={"status": "resolved", "resolution": "已处理"}, headers=auth).is_success
                rating = ["满意", "满意", "基本满意", "不满意"][i]
                assert client.patch(url, json={"status": "closed", "satisfaction": rating}, headers=auth).is_success


@pytest.fixture
def console_url(tmp_path: Path) -> Iterator[str]:
    db_url = f"sqlite:///{tmp_path / 'xunjian.db'}"
    seed(db_url)
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
    if not Path(CHROMIUM).exists():
        pytest.skip("apt-get install chromium fonts-noto-cjk")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.mark.slow
@pytest.mark.parametrize("width", [1024, 1366])
def test_dashboard_fits_the_screen_and_gives_ticket_titles_room(console_url: str, browser: Any, width: int) -> None:
    page = browser.new_context(viewport={"width": width, "height": 800}, locale="zh-CN",
                               base_url=console_url).new_page()
    page.goto("/console/login")
    page.fill("input[name=username]", "zhang")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url("**/console/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"dashboard-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "the page scrolls sideways"
    title = page.locator("section:has(h2:has-text('处理中的服务单')) tbody tr td:nth-child(2)").first
    assert title.bounding_box()["width"] >= 360, "ticket titles squeezed into a narrow column"
    assert page.locator(".stat", has_text="本月满意度 (基于 4 个评价)").inner_text().startswith("75%")
