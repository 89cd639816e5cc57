from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from collector.hosts import service as hosts
from collector.users import service as users

PASSWORDS = {"zhang": "zhang-pass-1", "li": "li-pass-22", "viewer": "viewer-pass-3"}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF field on the page"
    return m.group(1)


class Browser:
    """A TestClient acting as one browser: cookies kept, forms posted with the page's CSRF token."""

    def __init__(self, app: Any) -> None:
        self.client = TestClient(app, follow_redirects=True)
        self.csrf = ""

    def login(self, name: str, password: str | None = None) -> Any:
        page = self.client.get("/console/login")
        password = PASSWORDS[name] if password is None else password
        r = self.client.post("/console/login", data={"csrf": csrf_of(page.text), "username": name,
                                                     "password": password, "next": "/console/"})
        if r.status_code == 200 and "退出" in r.text:
            self.csrf = csrf_of(r.text)
        return r

    def get(self, path: str, **kw: Any) -> Any:
        r = self.client.get(path, **kw)
        if 'name="csrf"' in r.text and "/console/logout" in r.text:
            self.csrf = csrf_of(r.text)
        return r

    def post(self, path: str, data: dict[str, str] | None = None, csrf: bool = True, **kw: Any) -> Any:
        body = dict(data or {})
        if csrf:
            body["csrf"] = self.csrf
        return self.client.post(path, data=body, **kw)


class Console:
    def __init__(self, app: Any) -> None:
        self.app = app
        with app.state.sessionmaker() as db:
            users.add(db=db, name="zhang", role="engineer", display_name="张工", number="E01",
                      password=PASSWORDS["zhang"])
            users.add(db=db, name="li", role="engineer", display_name="李工", number="E02", password=PASSWORDS["li"])
            users.add(db=db, name="viewer", role="viewer", display_name="王经理", password=PASSWORDS["viewer"])
            _, self.admin_key = users.add(db=db, name="admin", role="admin", )
            _, self.token = hosts.enroll(db=db, name="web01", unit="某市财政局", room="301")
            db.commit()

    def browser(self) -> Browser:
        return Browser(self.app)


@pytest.fixture
def console_settings(db_url: str) -> Settings:
    return Settings(db_url=db_url, jobs_enabled=False)


@pytest.fixture
def console(console_settings: Settings) -> Iterator[Console]:
    app = create_app(console_settings)
    with TestClient(app):
        yield Console(app)
