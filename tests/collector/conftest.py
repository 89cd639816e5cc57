from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from collector.hosts import service as hosts
from collector.users import service as users


class Api:
    """A TestClient with an admin key, an engineer key, a viewer key and an enrolled agent web01."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.app = client.app
        with self.app.state.sessionmaker() as db:
            _, self.admin_key = users.add(db=db, name="admin", role="admin")
            _, self.engineer_key = users.add(db=db, name="zhang", role="engineer", display_name="张工", number="E01")
            _, self.viewer_key = users.add(db=db, name="viewer", role="viewer")
            _, self.token = hosts.enroll(db=db, name="web01", unit="某市财政局", room="301")
            _, self.token2 = hosts.enroll(db=db, name="web02", unit="某县财政局", room="102")
            db.commit()

    def h(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def post_results(self, body: Any, token: str | None = None, **kw: Any) -> Any:
        return self.client.post("/api/v1/results", json=body, headers=self.h(token or self.token), **kw)

    def get(self, path: str, key: str | None = None) -> Any:
        r = self.client.get(path, headers=self.h(key or self.admin_key))
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(db_url=db_url, jobs_enabled=False)


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    with TestClient(app) as client:
        yield Api(client)


@pytest.fixture
def app(pg_url: str) -> Iterator[Any]:
    """The collector app on a fresh PostgreSQL schema, its lifespan running, no periodic jobs."""
    app = create_app(Settings(db_url=pg_url, jobs_enabled=False))
    with TestClient(app):
        yield app
