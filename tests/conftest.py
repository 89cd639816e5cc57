"""Shared fixtures: databases (SQLite and the real PostgreSQL), a collector app, a running collector."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("XUNJIAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema in the real PostgreSQL, dropped afterwards (tests can run side by side)."""
    if not pg_available():
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    yield url
    with admin.begin() as c:
        c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'xunjian.db'}"
    return request.getfixturevalue("pg_url")


def wait_http(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def run_cli(*args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(list(args), check=True, capture_output=True, text=True, env={**os.environ, **(env or {})},
                         timeout=120)
    return out.stdout


SERVICE_MARKS = ("postgres", "rabbitmq")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """In CI (XUNJIAN_REQUIRE_SERVICES=1) a test that needs PostgreSQL or RabbitMQ may not skip."""
    outcome = yield
    report = outcome.get_result()
    if (os.environ.get("XUNJIAN_REQUIRE_SERVICES") == "1" and report.skipped
            and any(item.get_closest_marker(m) for m in SERVICE_MARKS)):
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid}: skipped, but CI requires the service: {report.longrepr}"
