"""SQLite: commits leave the WAL to the collector's background checkpointer, which copies it back
into the database file while the collector runs (and once more when it stops)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings
from collector.hosts import service as hosts
from tests.collector.factories import batch, result


def test_wal_is_copied_back_in_the_background(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    app = create_app(Settings(db_url=f"sqlite:///{db}", jobs_enabled=False))
    with TestClient(app) as client:
        with app.state.sessionmaker() as s:
            _, token = hosts.enroll(db=s, name="web01")
            s.commit()
        time.sleep(1.5)  # the schema and the host reach the file
        before = db.stat().st_size
        for i in range(30):
            body = batch(*(result(check=f"c{i}-{j}") for j in range(50)))
            assert client.post("/api/v1/results", json=body, headers={"Authorization": f"Bearer {token}"}).json()[
                "accepted"] == 50
        wal = Path(f"{db}-wal")
        assert wal.stat().st_size > 1_000_000  # the batches went to the WAL, no commit checkpointed them
        deadline = time.monotonic() + 10
        while db.stat().st_size <= before + 500_000 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert db.stat().st_size > before + 500_000, "the checkpointer did not copy the WAL back"
    assert os.path.exists(db)
