from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.base import Outcome
from checks.model import Status
from checks.options import ConfigError, build
from checks.sql import SqlCheck, SqlOptions
from tests.helpers.net import closed_port, listening

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SLOW_SQLITE = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
               "SELECT count(*) FROM c")  # never ends on its own


def run(**kw: object) -> Outcome:
    check = SqlCheck(build(SqlOptions, kw, "checks[0]"))
    try:
        return check.run()
    finally:
        check.close()


@pytest.fixture
def voucher_db(tmp_path: Path) -> str:
    db = tmp_path / "voucher.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE voucher (id INTEGER PRIMARY KEY, sent INTEGER NOT NULL)")
        c.executemany("INSERT INTO voucher (sent) VALUES (?)", [(0,)] * 12 + [(1,)] * 30)
    return f"sqlite:///{db}"


def test_sqlite_value_and_thresholds(voucher_db: str) -> None:
    q = "SELECT count(*) FROM voucher WHERE sent = 0"
    out = run(url=voucher_db, query=q, metric="unsent_vouchers", label="未发送凭证")
    assert out.status == Status.OK and out.summary == "未发送凭证: 12"
    assert out.metrics[0].name == "unsent_vouchers" and out.metrics[0].value == 12
    out = run(url=voucher_db, query=q, warn=10, crit=100, label="未发送凭证")
    assert out.status == Status.WARNING and out.summary == "未发送凭证: 12 (阈值 警告 10 / 严重 100)"
    assert run(url=voucher_db, query=q, crit="5").status == Status.CRITICAL


def test_sqlite_is_read_only(voucher_db: str) -> None:
    out = run(url=voucher_db, query="DELETE FROM voucher RETURNING 1")
    assert out.status == Status.UNKNOWN and "查询失败" in out.summary
    assert run(url=voucher_db, query="SELECT count(*) FROM voucher").summary == "value: 42"


def test_sqlite_query_timeout_interrupts(voucher_db: str) -> None:
    out = run(url=voucher_db, query=SLOW_SQLITE, query_timeout="200ms")
    assert out.status == Status.UNKNOWN and "查询超时" in out.summary


def test_results_that_are_not_a_number(voucher_db: str) -> None:
    assert "没有返回行" in run(url=voucher_db, query="SELECT 1 WHERE 1 = 0").summary
    assert "NULL" in run(url=voucher_db, query="SELECT sum(id) FROM voucher WHERE 1 = 0").summary
    assert "不是数字" in run(url=voucher_db, query="SELECT 'abc'").summary
    assert run(url=voucher_db, query="SELECT '7.5'").metrics[0].value == 7.5


def test_options() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        build(SqlOptions, {"query": "SELECT 1"}, "c")
    with pytest.raises(ConfigError, match="exactly one"):
        build(SqlOptions, {"query": "SELECT 1", "url": "sqlite://", "url_file": "/x"}, "c")
    with pytest.raises(ConfigError, match="empty"):
        build(SqlOptions, {"query": " ", "url": "sqlite://"}, "c")


def test_sqlalchemy_is_imported_lazily() -> None:
    import subprocess
    import sys

    code = "import sys, checks.sql; print('sqlalchemy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


# -- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture
def pg_table() -> Iterator[str]:
    if not listening(5432):
        pytest.skip("PostgreSQL is not listening on 127.0.0.1:5432")
    import psycopg

    name = f"xj_voucher_{uuid.uuid4().hex[:8]}"
    with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres", autocommit=True) as c:
        c.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, sent boolean NOT NULL)")
        c.execute(f"INSERT INTO {name} (sent) SELECT g % 4 = 0 FROM generate_series(1, 40) g")
    yield name
    with psycopg.connect("host=127.0.0.1 port=5432 dbname=test user=postgres", autocommit=True) as c:
        c.execute(f"DROP TABLE {name}")


@pytest.mark.postgres
def test_pg_value(pg_table: str) -> None:
    out = run(url=PG_URL, query=f"SELECT count(*) FROM {pg_table} WHERE NOT sent", warn="20",
              label="未发送凭证")
    assert out.status == Status.WARNING and out.metrics[0].value == 30
    assert out.details["database"] == PG_URL


@pytest.mark.postgres
def test_pg_read_only_transaction(pg_table: str) -> None:
    out = run(url=PG_URL, query=f"UPDATE {pg_table} SET sent = true RETURNING 1")
    assert out.status == Status.UNKNOWN and "read-only transaction" in out.summary
    out = run(url=PG_URL, query=f"SELECT count(*) FROM {pg_table} WHERE sent")
    assert out.metrics[0].value == 10  # nothing was changed


@pytest.mark.postgres
def test_pg_statement_timeout(pg_table: str) -> None:
    out = run(url=PG_URL, query="SELECT pg_sleep(10)", query_timeout="300ms")
    assert out.status == Status.UNKNOWN and "查询超时" in out.summary and "statement timeout" in out.summary


@pytest.mark.postgres
def test_pg_password_from_env_and_url_file(pg_table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XJ_DB_PASS", "not-checked-by-trust-auth")
    out = run(url=PG_URL, password_env="XJ_DB_PASS", query=f"SELECT count(*) FROM {pg_table}")
    assert out.status == Status.OK and out.metrics[0].value == 40
    assert "not-checked" not in out.details["database"]
    url_file = tmp_path / "db.url"
    url_file.write_text("postgresql+psycopg://postgres:Secr3t@127.0.0.1:5432/test\n")
    out = run(url_file=str(url_file), query="SELECT 1")
    assert out.status == Status.OK and "Secr3t" not in str(out.details)


def test_connect_refused_is_critical_without_password(tmp_path: Path) -> None:
    port = closed_port()
    out = run(url=f"postgresql+psycopg://monitor:Secr3t-pw@127.0.0.1:{port}/voucher", query="SELECT 1",
              connect_timeout="2s")
    assert out.status == Status.CRITICAL and "数据库连接失败" in out.summary
    assert "Secr3t-pw" not in out.summary and "***" in out.summary


def test_missing_password_env_and_driver() -> None:
    out = run(url="sqlite://", password_env="XJ_NO_SUCH_VAR_4711", query="SELECT 1")
    assert out.status == Status.UNKNOWN and "XJ_NO_SUCH_VAR_4711" in out.summary
    out = run(url="mysql+nosuchdriver://u:p@127.0.0.1/db", query="SELECT 1")
    assert out.status == Status.UNKNOWN and "不支持的数据库类型" in out.summary
