"""Two collector apps (as two processes would) on one PostgreSQL database: one version, one rollout
state; changes made through either reach agents polling the other within the generation's life."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from collector.templates import poll
from collector.users import service as users
from tests.collector.templates_helpers import bucket, enroll, template

pytestmark = pytest.mark.postgres


@pytest.fixture
def two(pg_url: str) -> Iterator[tuple[TestClient, TestClient, str]]:
    a = create_app(Settings(db_url=pg_url, jobs_enabled=False))
    with TestClient(a) as ca:
        b = create_app(Settings(db_url=pg_url, jobs_enabled=False), migrate_db=False)
        with TestClient(b) as cb:
            with a.state.sessionmaker() as db:
                _, key = users.add(db=db, name="admin", role="admin")
                db.commit()
            yield ca, cb, key


def get_config(c: TestClient, token: str) -> Any:
    r = c.get("/api/v1/agent/config", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_one_version_and_rollout_state(two: tuple[TestClient, TestClient, str]) -> None:
    ca, cb, key = two
    h = {"Authorization": f"Bearer {key}"}
    tokens = {f"pg{i:02d}": enroll(ca.app, f"pg{i:02d}") for i in range(40)}
    first = next(iter(tokens.values()))
    assert get_config(cb, first)["checks"] == []  # b has cached the empty state
    assert ca.post("/api/v1/templates", json={"yaml": template()}, headers=h).status_code == 200
    time.sleep(poll.GENERATION_TTL + 0.1)
    seen_b = get_config(cb, first)
    assert seen_b["sources"]["voucher-log"] == "voucher-base@v1"
    assert get_config(ca, first)["version"] == seen_b["version"]
    # a staged v2 through b, promoted through a, rolled back through b: both apps agree at every step
    assert cb.post("/api/v1/templates", json={"yaml": template(interval="45s"), "percent": 20},
                   headers=h).json()["version"] == 2
    time.sleep(poll.GENERATION_TTL + 0.1)
    for c in (ca, cb):
        got = {n: get_config(c, t)["sources"]["voucher-log"] for n, t in tokens.items()}
        assert got == {n: "voucher-base@v2" if bucket(n) < 20 else "voucher-base@v1" for n in tokens}
    assert ca.put("/api/v1/templates/voucher-base/percent", json={"percent": 100}, headers=h).status_code == 200
    time.sleep(poll.GENERATION_TTL + 0.1)
    assert {get_config(cb, t)["sources"]["voucher-log"] for t in tokens.values()} == {"voucher-base@v2"}
    assert cb.post("/api/v1/templates/voucher-base/rollback", headers=h).json()["version"] == 1
    time.sleep(poll.GENERATION_TTL + 0.1)
    assert {get_config(ca, t)["sources"]["voucher-log"] for t in tokens.values()} == {"voucher-base@v1"}
    audit = cb.get("/api/v1/templates/voucher-base", headers=h).json()["audit"]
    assert [a["action"] for a in audit] == ["rollback", "percent", "apply", "apply"]


def test_concurrent_applies_get_distinct_versions(two: tuple[TestClient, TestClient, str]) -> None:
    ca, cb, key = two
    h = {"Authorization": f"Bearer {key}"}
    assert ca.post("/api/v1/templates", json={"yaml": template()}, headers=h).status_code == 200
    answers: list[int] = []
    errors: list[str] = []

    def worker(c: TestClient, i: int) -> None:
        r = c.post("/api/v1/templates", json={"yaml": template(interval=f"{31 + i}s")}, headers=h)
        (answers.append(r.json()["version"]) if r.status_code == 200 else errors.append(r.text))

    threads = [threading.Thread(target=worker, args=(ca if i % 2 else cb, i)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(answers) == list(range(2, 10))  # serialised by the generation row lock
    d = ca.get("/api/v1/templates/voucher-base", headers=h).json()
    assert d["version"] == 9 and [v["version"] for v in d["versions"]] == list(range(9, 0, -1))
    assert len(d["audit"]) == 9
