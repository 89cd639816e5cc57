"""Console login, sessions (idle and absolute expiry, logout), CSRF, throttling, security headers."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import ConsoleSettings, Settings
from collector.console.models import ConsoleSession, LoginFailure
from collector.db import utcnow
from collector.security import token_digest
from tests.collector.console.conftest import Console, csrf_of


def test_pages_need_a_login_and_come_back_after_it(console: Console) -> None:
    b = console.browser()
    r = b.client.get("/console/tickets?status=open", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/console/login?next=/console/tickets%3Fstatus%3Dopen"
    page = b.client.get(r.headers["location"])
    assert "巡检运维控制台" in page.text and 'name="next" value="/console/tickets?status=open"' in page.text
    r = b.client.post("/console/login", data={"csrf": csrf_of(page.text), "username": "zhang",
                                              "password": "zhang-pass-1", "next": "/console/tickets?status=open"},
                      follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/tickets?status=open"
    cookie = r.headers["set-cookie"]
    assert "xj_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http in tests; see the secure test below
    assert "张工" in b.get("/console/").text


def test_next_never_leaves_the_console(console: Console) -> None:
    b = console.browser()
    page = b.client.get("/console/login")
    r = b.client.post("/console/login", data={"csrf": csrf_of(page.text), "username": "zhang",
                                              "password": "zhang-pass-1", "next": "//evil.example/x"},
                      follow_redirects=False)
    assert r.headers["location"] == "/console/"


def test_wrong_password_and_unknown_user_get_the_same_answer(console: Console) -> None:
    b = console.browser()
    bad = b.login("zhang", "nope")
    unknown = b.login("nobody", "nope")
    assert bad.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in bad.text and "用户名或密码错误" in unknown.text


def test_user_without_password_cannot_log_in(console: Console) -> None:
    assert console.browser().login("admin", "anything").status_code == 401


def test_logout_ends_the_session_on_the_server(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    stolen = b.client.cookies.get("xj_session")
    r = b.post("/console/logout")
    assert r.status_code == 200 and "登录" in r.text and r.url.path == "/console/login"
    other = TestClient(console.app, cookies={"xj_session": stolen})
    assert other.get("/console/", follow_redirects=False).status_code == 303
    with console.app.state.sessionmaker() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(ConsoleSession)) == 0


def _age(console: Console, token: str, **changes: object) -> None:
    with console.app.state.sessionmaker() as db:
        db.execute(sa.update(ConsoleSession).where(ConsoleSession.id_hash == token_digest(token)).values(**changes))
        db.commit()


def test_idle_session_expires_after_30_minutes(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    token = b.client.cookies.get("xj_session")
    _age(console, token, last_seen_at=utcnow() - timedelta(minutes=29))
    assert b.client.get("/console/", follow_redirects=False).status_code == 200
    _age(console, token, last_seen_at=utcnow() - timedelta(minutes=31))
    r = b.client.get("/console/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")


def test_activity_keeps_the_session_but_not_past_12_hours(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    token = b.client.cookies.get("xj_session")
    _age(console, token, last_seen_at=utcnow() - timedelta(minutes=20))
    assert b.client.get("/console/", follow_redirects=False).status_code == 200
    with console.app.state.sessionmaker() as db:
        row = db.get(ConsoleSession, token_digest(token))
        assert utcnow() - row.last_seen_at < timedelta(minutes=1)  # touched
        assert timedelta(hours=11, minutes=59) < row.expires_at - row.created_at <= timedelta(hours=12)
    _age(console, token, expires_at=utcnow() - timedelta(seconds=1))
    assert b.client.get("/console/", follow_redirects=False).status_code == 303


def test_session_works_on_another_collector_process(console: Console, console_settings: Settings) -> None:
    b = console.browser()
    b.login("zhang")
    second = create_app(console_settings)  # a second process on the same database
    with TestClient(second, cookies={"xj_session": b.client.cookies.get("xj_session")}) as c:
        r = c.get("/console/", follow_redirects=False)
        assert r.status_code == 200 and "张工" in r.text


def test_post_without_csrf_token_is_refused_with_a_clear_page(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    r = b.post("/console/maintenance", {"title": "升级", "starts_at": "2026-12-01T20:00",
                                        "ends_at": "2026-12-01T22:00"}, csrf=False)
    assert r.status_code == 403 and "CSRF" in r.text and "刷新后重新提交" in r.text
    r = b.post("/console/maintenance", {"title": "升级", "starts_at": "2026-12-01T20:00",
                                        "ends_at": "2026-12-01T22:00", "csrf": "forged"}, csrf=False)
    assert r.status_code == 403
    assert "升级" not in b.get("/console/maintenance").text
    assert b.post("/console/logout", csrf=False).status_code == 403


def test_csrf_token_of_another_session_does_not_work(console: Console) -> None:
    a, b = console.browser(), console.browser()
    a.login("zhang")
    b.login("li")
    r = b.post("/console/maintenance", {"title": "升级", "starts_at": "2026-12-01T20:00",
                                        "ends_at": "2026-12-01T22:00", "csrf": a.csrf}, csrf=False)
    assert r.status_code == 403


def test_login_form_needs_its_csrf_cookie(console: Console) -> None:
    b = console.browser()
    r = b.client.post("/console/login", data={"username": "zhang", "password": "zhang-pass-1"})
    assert r.status_code == 403 and "CSRF" in r.text


def test_five_failures_lock_the_user_out_from_that_address(console: Console) -> None:
    b = console.browser()
    for _ in range(5):
        assert b.login("zhang", "wrong").status_code == 401
    r = b.login("zhang")  # even the right password is refused now
    assert r.status_code == 429 and "登录失败次数过多" in r.text
    assert console.browser().login("li").status_code == 200  # other users are not locked
    with console.app.state.sessionmaker() as db:  # the window passes
        db.execute(sa.update(LoginFailure).values(at=utcnow() - timedelta(minutes=6)))
        db.commit()
    r = b.login("zhang")
    assert r.status_code == 200 and "张工" in r.text


def test_success_clears_earlier_failures(console: Console) -> None:
    b = console.browser()
    for _ in range(4):
        b.login("zhang", "wrong")
    assert b.login("zhang").status_code == 200
    c = console.browser()
    for _ in range(4):
        assert c.login("zhang", "wrong").status_code == 401
    assert c.login("zhang").status_code == 200


def test_security_headers_on_console_pages_only(console: Console) -> None:
    b = console.browser()
    for path in ("/console/login", "/console/static/console.css"):
        h = b.client.get(path).headers
        assert h["content-security-policy"].startswith("default-src 'self'")
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"
    assert b.client.get("/console/login").headers["cache-control"] == "no-store"
    assert "content-security-policy" not in b.client.get("/healthz").headers


def test_root_redirects_to_the_console(console: Console) -> None:
    r = console.browser().client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/"


def test_api_still_needs_a_key_not_the_cookie(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    assert b.client.get("/api/v1/tickets").status_code == 401
    assert b.client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {console.admin_key}"}).status_code == 200


def test_secure_cookie_when_configured(db_url: str) -> None:
    app = create_app(Settings(db_url=db_url, jobs_enabled=False, console=ConsoleSettings(secure_cookie=True)))
    with TestClient(app):
        Console(app)
        b = TestClient(app, base_url="https://testserver")  # browsers keep Secure cookies for https only
        page = b.get("/console/login")
        assert "Secure" in page.headers["set-cookie"]
        r = b.post("/console/login", data={"csrf": csrf_of(page.text), "username": "zhang",
                                           "password": "zhang-pass-1"}, follow_redirects=False)
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]


def test_disabled_user_loses_the_session(console: Console) -> None:
    from collector.users.models import User

    b = console.browser()
    b.login("zhang")
    with console.app.state.sessionmaker() as db:
        db.execute(sa.update(User).where(User.name == "zhang").values(active=False))
        db.commit()
    assert b.client.get("/console/", follow_redirects=False).status_code == 303


def test_logging_in_again_replaces_the_old_session(console: Console) -> None:
    b = console.browser()
    b.login("zhang")
    first = b.client.cookies.get("xj_session")
    # a login form opened before (another tab): it is posted while the old session cookie is still there
    page = TestClient(console.app).get("/console/login")
    b.client.cookies.set("xj_login", page.cookies["xj_login"], domain="testserver.local", path="/console")
    r = b.client.post("/console/login", data={"csrf": csrf_of(page.text), "username": "li",
                                              "password": "li-pass-22"}, follow_redirects=False)
    assert r.status_code == 303
    assert "李工" in b.client.get("/console/").text
    with console.app.state.sessionmaker() as db:
        assert db.get(ConsoleSession, token_digest(first)) is None
        assert db.scalar(sa.select(sa.func.count()).select_from(ConsoleSession)) == 1


def test_unknown_console_path_is_an_html_404(console: Console) -> None:
    r = console.browser().client.get("/console/no/such/page")
    assert r.status_code == 404 and "没有这个页面" in r.text and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-frame-options"] == "DENY"
