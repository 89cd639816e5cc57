"""The desk's pages: host list (filters, search, pages), return visits (survey form and 用户回访统计表), users
and API keys, notification channels (state, test send, the dashboard's warning); per role, and with
hostile input that gets a Chinese error and loses nothing."""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from collector.console import overview
from collector.db import utcnow
from collector.hosts.models import Host
from collector.notifications.models import OutboxMessage
from collector.results.models import CheckState
from collector.timefmt import zone
from collector.users.models import User
from collector.visits.models import Visit
from tests.collector.console.conftest import Browser, Console
from tests.collector.console.test_pages import new_case, ticket
from tests.helpers.notify_servers import FakeService, Reply, scripted, webhook_receiver

ADMIN_PW = "boss-pass-123"
HOSTILE = ["a\x00b", "<script>alert(1)</script>", "9" * 40]


def add_admin(console: Console) -> None:
    from collector.users import service as users

    with console.app.state.sessionmaker() as db:
        users.add(db=db, name="boss", role="admin", display_name="管理员", number="A01", password=ADMIN_PW)
        db.commit()


def login(console: Console, who: str) -> Browser:
    b = console.browser()
    r = b.login(who, ADMIN_PW if who == "boss" else None)
    assert r.status_code == 200 and "退出" in r.text, r.text[:300]
    return b


def fleet(console: Console, n: int) -> None:
    """n more hosts in three units: every 5th has a critical voucher check, every 7th is offline."""
    now = utcnow()
    with console.app.state.sessionmaker() as db:
        for i in range(n):
            h = Host(name=f"fleet{i:03d}", unit=("甲单位", "乙单位", "丙单位")[i % 3], room=f"R{i % 10}", labels={},
                     enrolled_at=now, last_seen_at=now, agent_version="1", heartbeat_seconds=30.0,
                     online=i % 7 != 0, dropped_total=0, rejected_total=0)
            db.add(h)
            db.flush()
            for check, system, status in (("root-disk", "os", 0), ("voucher-log", "voucher", 2 if i % 5 == 0 else 0)):
                db.add(CheckState(host_id=h.id, check=check, type="disk" if system == "os" else "log", system=system,
                                  status=status, summary="", metrics=[{"name": "used_percent:/", "value": 50.0}]
                                  if system == "os" else [], last_result_id=uuid.uuid4(), last_started_at=now,
                                  consecutive_bad=0, consecutive_ok=1, status_changes=0, since=now))
        db.commit()


def names(html: str) -> list[str]:
    return re.findall(r'href="/console/hosts/(fleet\d{3})"', html)


# -- hosts ------------------------------------------------------------------------------------------

def test_host_list_filters_searches_and_pages(console: Console) -> None:
    fleet(console, 120)
    b = login(console, "viewer")  # every role may look
    page = b.get("/console/hosts")
    assert page.status_code == 200 and "共 121 台" in page.text and "第 1 / 3 页" in page.text
    assert len(names(page.text)) == 50
    second, third = (b.get("/console/hosts", params={"page": str(n)}).text for n in (2, 3))
    assert len(names(third)) == 21 and "第 3 / 3 页" in third and "下一页" not in third
    assert len({*names(page.text), *names(second), *names(third)}) == 120 and "web01" in second  # 丙 乙 某 甲
    unit = b.get("/console/hosts", params={"unit": "乙单位"}).text
    assert "共 40 台" in unit and all(int(n[5:]) % 3 == 1 for n in names(unit))
    bad = b.get("/console/hosts", params={"status": "problem", "system": "voucher"}).text
    assert "共 24 台" in bad and all(int(n[5:]) % 5 == 0 for n in names(bad))
    ok = b.get("/console/hosts", params={"status": "ok", "system": "voucher"}).text
    assert "共 96 台" in ok
    off = b.get("/console/hosts", params={"status": "offline", "unit": "甲单位"}).text
    assert all(int(n[5:]) % 7 == 0 and int(n[5:]) % 3 == 0 for n in names(off)) and "共 6 台" in off
    room = b.get("/console/hosts", params={"q": "r3"}).text  # room R3, any case
    assert "共 12 台" in room and all(int(n[5:]) % 10 == 3 for n in names(room))
    assert "共 1 台" in b.get("/console/hosts", params={"q": "fleet007"}).text
    assert "共 0 台" in b.get("/console/hosts", params={"q": "%"}).text  # a LIKE wildcard is a character
    assert "web01" in b.get("/console/hosts", params={"q": "某市"}).text


@pytest.mark.parametrize("value", HOSTILE)
def test_host_list_takes_odd_query_values_without_error(console: Console, value: str) -> None:
    b = login(console, "zhang")
    for params in ({"q": value}, {"unit": value}, {"page": value}, {"status": value, "system": value},
                   {"page": "-3"}):
        r = b.get("/console/hosts", params=params)
        assert r.status_code == 200, (params, r.status_code)
        assert "<script>alert" not in r.text
    assert b.get("/console/hosts?q=%ED%A0%80x&unit=%00").status_code == 200  # a lone surrogate, NUL
    assert "第 1 / 1 页" in b.get("/console/hosts", params={"page": "9" * 40}).text


def test_dashboard_at_fleet_size_lists_units_and_hosts_needing_attention(console: Console,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    fleet(console, 60)
    monkeypatch.setattr(overview, "FULL_LIST", 20)
    html = login(console, "zhang").get("/console/").text
    assert "各单位主机" in html and "需要关注的主机" in html
    shown = set(names(html))
    expected = {f"fleet{i:03d}" for i in range(60) if i % 5 == 0 or i % 7 == 0}
    assert shown == expected
    assert re.search(r"丙单位</a></td><td>20</td>", html)
    stats = re.findall(r'<div class="n">(\d+)</div><div class="l">([^<]+)</div>', html)
    assert ("61", "主机") in stats and ("9", "代理离线") in stats and ("12", "有异常的主机") in stats


def test_host_pages_exist_for_every_role_and_not_found_is_chinese(console: Console) -> None:
    for who in ("viewer", "zhang"):
        b = login(console, who)
        assert b.get("/console/hosts").status_code == 200
        assert b.get("/console/hosts/web01").status_code == 200
        r = b.get("/console/hosts/nosuch")
        assert r.status_code == 404 and "不存在" in r.text
    assert 'href="/console/hosts"' in login(console, "viewer").get("/console/").text


# -- return visits --------------------------------------------------------------------------------

def visit_form(**over: str) -> dict[str, str]:
    today = utcnow().astimezone(zone("Asia/Shanghai")).date().isoformat()
    return {"date": today, "method": "电话", "unit": "某县财政局", "customer_name": "赵会计", "ticket": "",
            "q0": "满意", "q1": "满意", "q2": "基本满意", "q3": "满意", "q4": "", "satisfaction": "满意",
            "comment": "响应很快", **over}


def visits(console: Console) -> list[Visit]:
    with console.app.state.sessionmaker() as db:
        return list(db.scalars(sa.select(Visit).order_by(Visit.id)))


def test_engineer_records_a_visit_linked_to_a_ticket_and_the_month_counts_it(console: Console) -> None:
    b = login(console, "zhang")
    tid = new_case(b)
    number = ticket(console, tid).number
    page = b.get("/console/visits")
    assert page.status_code == 200 and "客户满意度调查表" in page.text and "用户回访统计表" in page.text
    assert "checked" not in page.text  # nothing pre-selected
    r = b.post("/console/visits", visit_form(ticket=number, unit=""))
    assert r.status_code == 200 and "回访记录已保存" in r.text
    b.post("/console/visits", visit_form(unit="某市财政局", satisfaction="不满意", q0="不满意"))
    v = visits(console)
    assert len(v) == 2 and v[0].ticket_id == tid and v[0].unit == "某县财政局"  # unit taken from the ticket
    assert v[0].engineer_name == "张工" and v[0].engineer_number == "E01"
    assert [a["answer"] for a in v[0].answers] == ["满意", "满意", "基本满意", "满意", "未回答"]
    html = b.get("/console/visits").text
    table = html[html.index("用户回访统计表"):html.index("客户满意度调查表")]
    assert re.search(r"<td>某县财政局</td><td>1</td><td>1</td><td>0</td><td>0</td>\s*<td[^>]*>100.0%</td>"
                     r"<td[^>]*>基于 1 个评价</td>", table)
    assert re.search(r"<td>合计</td><td>2</td>.*?50.0%</td><td[^>]*>基于 2 个评价</td>.*?未达标", table, re.S)
    assert "目标 ≥ 90%" in table
    assert f">{number}</a>" in html
    dash = b.get("/console/").text
    assert "本月满意度 (基于 2 个评价)" in dash
    paper = b.get(f"/console/visits/{v[0].id}/print")
    assert paper.status_code == 200 and "客户满意度调查表" in paper.text and number in paper.text
    assert paper.text.count("☑ 满意") == 3 + 1 and "☑ 基本满意" in paper.text and "☑ 电话" in paper.text
    for odd in ("999999", "99999999999999999999", "-1"):
        r = b.get(f"/console/visits/{odd}/print")
        assert r.status_code in (404, 422) and "<html" in r.text


def test_visit_form_refuses_bad_input_in_chinese_and_keeps_what_was_typed(console: Console) -> None:
    b = login(console, "zhang")
    b.get("/console/visits")
    cases = [({"comment": "意见\x00很多"}, "控制字符"), ({"customer_name": "x" * 65}, "客户姓名过长"),
             ({"satisfaction": ""}, "请选择总体满意度"), ({"date": "2999-01-01"}, "回访日期不能晚于今天"),
             ({"date": "99999-99-99"}, "请填写正确的回访日期"), ({"ticket": "FW-NOPE"}, "服务单 FW-NOPE 不存在"),
             ({"method": "托梦"}, "请选择回访方式"), ({"q1": "还行"}, "调查项的回答只能是"),
             ({"unit": ""}, "请填写客户单位")]
    for over, message in cases:
        r = b.post("/console/visits", {**visit_form(customer_name="钱<b>出纳</b>", comment="保留这段意见"), **over})
        assert r.status_code == 422 and message in r.text, (over, r.status_code)
        if "customer_name" not in over:
            assert 'value="钱&lt;b&gt;出纳&lt;/b&gt;"' in r.text  # kept, escaped
        if "comment" not in over:
            assert "保留这段意见</textarea>" in r.text
    assert visits(console) == []
    r = b.post("/console/visits", visit_form(customer_name="<script>alert(1)</script>"))
    assert r.status_code == 200 and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "<script>alert" not in r.text


def test_viewer_sees_visits_but_cannot_record_one(console: Console) -> None:
    b = login(console, "viewer")
    page = b.get("/console/visits")
    assert page.status_code == 200 and "用户回访统计表" in page.text and "客户满意度调查表" not in page.text
    r = b.post("/console/visits", visit_form())
    assert r.status_code == 403 and "只读账号" in r.text
    assert visits(console) == []


# -- users and API keys ---------------------------------------------------------------------------

def shown_secret(html: str) -> str:
    m = re.search(r'<pre class="secret"[^>]*>([^<]+)</pre>', html)
    assert m, "no secret shown"
    return m.group(1)


def test_users_page_is_for_admins_only(console: Console) -> None:
    add_admin(console)
    for who in ("viewer", "zhang"):
        b = login(console, who)
        r = b.get("/console/users")
        assert r.status_code == 403 and "只有管理员" in r.text
        assert 'href="/console/users"' not in b.get("/console/").text
        r = b.post("/console/users", {"name": "evil", "display_name": "坏人", "role": "admin"})
        assert r.status_code == 403
    a = login(console, "boss")
    assert 'href="/console/users"' in a.get("/console/").text
    assert a.get("/console/users").status_code == 200
    with console.app.state.sessionmaker() as db:
        assert db.scalar(sa.select(User).where(User.name == "evil")) is None


def test_admin_adds_a_user_who_logs_in_and_uses_the_key_shown_once(console: Console) -> None:
    add_admin(console)
    a = login(console, "boss")
    a.get("/console/users")
    r = a.post("/console/users", {"name": "wang", "display_name": "王工", "number": "E09", "role": "engineer"})
    assert r.status_code == 200 and "只显示这一次" in r.text
    password, key = re.match(r"密码: (\S+)\nAPI 密钥: (\S+)", shown_secret(r.text)).groups()
    assert password not in a.get("/console/users").text  # once
    w = console.browser()
    assert "王工 (E09) · 工程师" in w.login("wang", password).text
    api = TestClient(console.app)
    assert api.get("/api/v1/tickets", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    r = a.post("/console/users", {"name": "wang", "display_name": "又一个", "role": "viewer"})
    assert r.status_code == 422 and "登录名 wang 已存在" in r.text


@pytest.mark.parametrize("field,value,message", [
    ("name", "bad name", "登录名只能用"), ("name", "a\x00b", "登录名只能用"), ("display_name", "王\x00工", "控制字符"),
    ("display_name", "", "请填写姓名"), ("number", "9" * 40, "编号过长"), ("role", "root", "请选择角色")])
def test_add_user_refuses_bad_input_in_chinese_and_keeps_it(console: Console, field: str, value: str,
                                                            message: str) -> None:
    add_admin(console)
    a = login(console, "boss")
    a.get("/console/users")
    form = {"name": "wang", "display_name": "王<i>工</i>", "number": "E09", "role": "engineer", field: value}
    r = a.post("/console/users", form)
    assert r.status_code == 422 and message in r.text
    if field != "display_name":
        assert 'value="王&lt;i&gt;工&lt;/i&gt;"' in r.text
    with console.app.state.sessionmaker() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(User)) == 5


def user_id(console: Console, name: str) -> int:
    with console.app.state.sessionmaker() as db:
        return db.scalar(sa.select(User.id).where(User.name == name))


def test_admin_disables_resets_and_rotates(console: Console) -> None:
    add_admin(console)
    a = login(console, "boss")
    z = login(console, "zhang")
    a.get("/console/users")
    zid = str(user_id(console, "zhang"))
    r = a.post("/console/users/disable", {"user": zid})
    assert r.status_code == 200 and "已停用用户 zhang" in r.text
    assert "/console/login" in str(z.get("/console/").url)  # logged out at once
    assert "用户名或密码错误" in console.browser().login("zhang").text
    a.post("/console/users/enable", {"user": zid})
    r = a.post("/console/users/password", {"user": zid})
    new = shown_secret(r.text)
    assert "用户名或密码错误" in console.browser().login("zhang").text
    assert "退出" in console.browser().login("zhang", new).text
    api = TestClient(console.app)
    r = a.post("/console/users/key", {"user": str(user_id(console, "admin"))})
    key = shown_secret(r.text)
    assert api.get("/api/v1/tickets", headers={"Authorization": f"Bearer {console.admin_key}"}).status_code == 401
    assert api.get("/api/v1/tickets", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    r = a.post("/console/users/disable", {"user": str(user_id(console, "boss"))})
    assert r.status_code == 409 and "不能停用自己" in r.text
    for odd in [*HOSTILE, "0", ""]:
        r = a.post("/console/users/password", {"user": odd})
        assert r.status_code == 404 and "用户不存在" in r.text
    assert a.post("/console/users/password", {"user": zid}, csrf=False).status_code == 403


# -- notification channels ------------------------------------------------------------------------

def test_without_channels_the_dashboard_warns_and_the_page_says_why(console: Console) -> None:
    v = login(console, "viewer")
    assert "未配置任何通知通道" in v.get("/console/").text
    assert v.get("/console/channels").status_code == 403
    assert 'href="/console/channels"' not in v.get("/console/").text
    z = login(console, "zhang")
    page = z.get("/console/channels")
    assert page.status_code == 200 and "未配置任何通知通道" in page.text
    assert 'href="/console/channels"' in z.get("/console/").text


@pytest.fixture
def hook() -> Iterator[FakeService]:
    with FakeService(webhook_receiver(token="hook-token-1")) as svc:
        yield svc


@pytest.fixture
def broken() -> Iterator[FakeService]:
    with FakeService(scripted(Reply(status=503, body={"error": "维护中"}))) as svc:
        yield svc


@pytest.fixture
def notify_console(db_url: str, hook: FakeService, broken: FakeService) -> Iterator[Console]:
    notify = {"channels": [{"name": "ops-hook", "type": "webhook", "url": hook.url + "/hook", "token": "hook-token-1"},
                           {"name": "bad-hook", "type": "webhook", "url": broken.url + "/hook?token=s3cret",
                            "timeout": "3s"}],
              "routes": [{"channels": ["ops-hook", "bad-hook"]}]}
    app = create_app(Settings(db_url=db_url, jobs_enabled=False, notify=notify))
    with TestClient(app):
        c = Console(app)
        add_admin(c)
        yield c


def test_channels_page_shows_state_and_test_send_goes_through_the_outbox(notify_console: Console,
                                                                       hook: FakeService) -> None:
    c = notify_console
    a = login(c, "boss")
    page = a.get("/console/channels")
    assert page.status_code == 200 and "ops-hook" in page.text and "尚未发送" in page.text
    assert "s3cret" not in page.text  # secrets in URLs masked
    r = a.post("/console/channels/test", {"channel": "ops-hook"})
    assert r.status_code == 200 and "测试消息已通过 ops-hook 发出" in r.text
    assert len(hook.requests) == 1 and hook.requests[0].json()["kind"] == "test"
    assert "成功" in r.text
    with c.app.state.sessionmaker() as db:
        row = db.scalar(sa.select(OutboxMessage).where(OutboxMessage.channel == "ops-hook"))
        assert (row.kind, row.status, row.attempts) == ("test", "sent", 1) and row.last_attempt_at is not None
    r = a.post("/console/channels/test", {"channel": "nosuch<script>"})
    assert r.status_code == 422 and "没有这个通知通道" in r.text and "<script>" not in r.text
    z = login(c, "zhang")
    assert z.get("/console/channels").status_code == 200
    assert z.post("/console/channels/test", {"channel": "ops-hook"}).status_code == 403
    assert len(hook.requests) == 1


def test_a_channel_that_keeps_failing_is_shown_and_warned_about(notify_console: Console,
                                                                broken: FakeService) -> None:
    c = notify_console
    a = login(c, "boss")
    a.get("/console/channels")
    assert "通知通道" not in a.get("/console/").text.split("<main>")[1].split("<div class=\"stats\">")[0]
    for _ in range(3):
        r = a.post("/console/channels/test", {"channel": "bad-hook"})
        assert r.status_code == 502 and "测试消息发送失败 (bad-hook)" in r.text and "503" in r.text
    assert len(broken.requests) >= 3
    page = a.get("/console/channels").text
    assert "连续失败 3 次" in page and "s3cret" not in page
    dash = a.get("/console/").text
    assert "通知通道 bad-hook 最近连续 3 次以上发送失败" in dash and "ops-hook" not in dash.split("<main>")[1][:400]


def test_pages_refuse_without_login(console: Console) -> None:
    anon = TestClient(console.app, follow_redirects=False)
    for path in ("/console/hosts", "/console/visits", "/console/users", "/console/channels"):
        r = anon.get(path)
        assert r.status_code == 303 and "/console/login" in r.headers["location"]
    r = anon.post("/console/users", data={"name": "x"})
    assert r.status_code == 303
