"""Console login under attack: the password check runs off the event loop, an account guessed from many
addresses backs off, and every refused login is audited (who, from where, when, why)."""
from __future__ import annotations

import asyncio
import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from collector.console import auth
from collector.console.models import LoginAudit, LoginFailure
from collector.db import utcnow
from tests.collector.console.conftest import PASSWORDS, Console, csrf_of


def login_from(console: Console, ip: str, name: str, password: str, agent: str = "pytest-browser") -> Any:
    client = TestClient(console.app, client=(ip, 40000), follow_redirects=False, headers={"User-Agent": agent})
    page = client.get("/console/login")
    return client.post("/console/login", data={"csrf": csrf_of(page.text), "username": name, "password": password,
                                               "next": "/console/"})


def test_the_password_check_never_runs_on_the_event_loop(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bool, int]] = []
    real = auth.verify_password

    def watched(password: str, stored: str | None) -> bool:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        calls.append((on_loop, threading.get_ident()))
        return real(password, stored)

    monkeypatch.setattr(auth, "verify_password", watched)
    assert login_from(console, "10.1.0.1", "zhang", "wrong").status_code == 401
    assert login_from(console, "10.1.0.1", "nobody", "wrong").status_code == 401
    assert login_from(console, "10.1.0.2", "zhang", PASSWORDS["zhang"]).status_code == 303
    assert len(calls) == 3 and not any(on_loop for on_loop, _ in calls)


def test_an_account_guessed_from_many_addresses_backs_off(console: Console) -> None:
    for i in range(5):  # one failure from each of five addresses: no address reaches its own limit
        assert login_from(console, f"10.2.0.{i}", "zhang", f"guess{i}").status_code == 401
    assert login_from(console, "10.2.0.5", "zhang", "guess5").status_code == 429  # not even checked
    r = login_from(console, "10.2.0.99", "zhang", PASSWORDS["zhang"])  # even the right password waits now
    assert r.status_code == 429 and "登录失败次数过多" in r.text
    assert int(r.headers["retry-after"]) == 1  # 2 ** (5 - 5) seconds after the last failure
    assert login_from(console, "10.2.0.99", "li", PASSWORDS["li"]).status_code == 303  # other accounts go on
    with console.app.state.sessionmaker() as db:  # the backoff passes (the failures stay in the window)
        db.execute(sa.update(LoginFailure).values(at=utcnow() - timedelta(seconds=3)))
        db.commit()
    assert login_from(console, "10.2.0.99", "zhang", PASSWORDS["zhang"]).status_code == 303


def test_the_backoff_grows_and_is_capped(console: Console) -> None:
    cfg = console.app.state.settings.console
    now = utcnow()
    with console.app.state.sessionmaker() as db:
        waits = []
        for i in range(12):
            db.add(LoginFailure(name="zhang", ip=f"10.3.0.{i}", at=now))
            db.flush()
            waits.append(auth.throttled(db=db, name="zhang", ip="10.3.1.1", now=now, cfg=cfg))
    assert waits[:4] == [0, 0, 0, 0]
    assert waits[4:9] == [1, 2, 4, 8, 16]
    assert waits[-1] == cfg.login_account_backoff_max_seconds == 60


def test_refused_logins_are_audited(console: Console, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="xunjian.audit")
    login_from(console, "10.4.0.1", "zhang", "wrong", agent="curl/8.0")
    login_from(console, "10.4.0.2", "nobody\nforged line", "x")
    for _ in range(5):
        login_from(console, "10.4.0.3", "li", "wrong")
    assert login_from(console, "10.4.0.3", "li", PASSWORDS["li"]).status_code == 429
    with console.app.state.sessionmaker() as db:
        rows = db.execute(sa.select(LoginAudit.name, LoginAudit.ip, LoginAudit.reason, LoginAudit.user_agent,
                                    LoginAudit.at).order_by(LoginAudit.id)).all()
    assert [(r.name, r.ip, r.reason) for r in rows[:2]] == [("zhang", "10.4.0.1", "bad_password"),
                                                            ("nobody\nforged line", "10.4.0.2", "unknown_user")]
    assert rows[0].user_agent == "curl/8.0" and rows[0].at is not None
    assert len(rows) == 7  # the throttled attempt checked no password: logged, not written
    text = caplog.text
    assert "reason=throttled" in text and "ip='10.4.0.3'" in text
    assert "'nobody\\nforged line'" in text and "\nforged line" not in text  # one log line per attempt


def test_a_login_flood_waits_for_a_password_check_slot_and_is_told_to_come_back(
        console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    from collector.limits import Overloaded

    class Full:
        async def __aenter__(self) -> None:
            raise Overloaded(5)

        async def __aexit__(self, *exc: object) -> None:
            return None

    checked: list[str] = []
    monkeypatch.setattr(auth, "verify_password", lambda password, stored: checked.append(password) or False)
    console.app.state.password_gate = Full()
    r = login_from(console, "10.5.0.1", "zhang", PASSWORDS["zhang"])
    assert r.status_code == 503 and r.headers["retry-after"] == "5" and "登录请求过多" in r.text
    assert checked == []
    del console.app.state.password_gate  # made again on the next login: at most half the CPUs, at least one
    assert login_from(console, "10.5.0.1", "zhang", "wrong").status_code == 401
    assert console.app.state.password_gate.slots >= 1 and checked == ["wrong"]
