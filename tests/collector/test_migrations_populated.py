"""Alembic upgrades keep a populated database intact: schema at 0001, rows in, upgrade to head, same rows
(SQLite and PostgreSQL), and the upgraded database works for ingest and the lists."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import orjson
import sqlalchemy as sa
from fastapi.testclient import TestClient

from checks.model import uuid7
from collector import migrate
from collector.app import create_app
from collector.config import Settings
from collector.db import make_engine
from collector.security import token_digest

T0 = datetime(2026, 10, 31, 15, 59, 59, tzinfo=timezone.utc)  # a second before midnight in Shanghai


def _t(engine: sa.Engine, t: datetime) -> object:
    return t.replace(tzinfo=None) if engine.dialect.name == "sqlite" else t


def _u(engine: sa.Engine, u: uuid.UUID) -> object:
    return u.hex if engine.dialect.name == "sqlite" else u


def test_upgrade_from_0001_keeps_every_row(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0001")
    ids = [uuid.uuid4() for _ in range(50)]
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO hosts (id, name, unit, room, labels, token_hash, enrolled_at, agent_version, "
                          "heartbeat_seconds, online, dropped_total) VALUES (1, 'old01', '某市财政局', '301', '{}', "
                          ":h, :t, '0.1', 30, :on, 0)"), {"h": token_digest("xja_old"), "t": _t(engine, T0),
                                                          "on": True})
        for i, rid in enumerate(ids):
            c.execute(sa.text('INSERT INTO results (started_at, id, host_id, "check", type, system, status, summary, '
                              "duration, metrics, details, seq, received_at) VALUES (:s, :id, 1, 'voucher-log', "
                              "'log', 'voucher', :st, '历史结果', 0.01, :m, '{}', :seq, :s)"),
                      {"s": _t(engine, T0 - timedelta(days=i)), "id": _u(engine, rid), "st": 2 if i == 0 else 0,
                       "m": '[{"name": "critical_events", "value": 1.0}]', "seq": i})
        c.execute(sa.text('INSERT INTO tickets (id, number, fault_key, active_fault_key, source, channel, status, '
                          'severity, urgent, system, host_id, host, "check", title, description, resolution, '
                          "customer_name, customer_unit, room, reported_at, opened_at, paused_seconds, pauses, "
                          "engineer_name, engineer_number, satisfaction_comment, occurrences, last_occurrence_at, "
                          "last_summary, labels, version) VALUES (1, 'FW-202610-0001', 'check:old01:voucher-log', "
                          "'check:old01:voucher-log', 'check', 'auto', 'open', 'critical', :f, 'voucher', 1, 'old01', "
                          "'voucher-log', '旧服务单', '历史', '', '', '某市财政局', '301', :t, :t, 0, '[]', '', '', "
                          "'', 1, :t, '', '{}', 1)"), {"t": _t(engine, T0), "f": False})
    migrate.upgrade(engine, "head")
    assert migrate.current(engine) != "0001"
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM results")).scalar_one() == 50
        assert c.execute(sa.text("SELECT count(*) FROM tickets WHERE number = 'FW-202610-0001'")).scalar_one() == 1
        # 0007: metrics and details kept their values (json on PostgreSQL, text on SQLite)
        metrics = c.execute(sa.text("SELECT metrics FROM results WHERE seq = 3")).scalar_one()
        assert (orjson.loads(metrics) if isinstance(metrics, str) else metrics) == [
            {"name": "critical_events", "value": 1.0}]
        if engine.dialect.name == "postgresql":
            kinds = c.execute(sa.text("SELECT column_name, data_type FROM information_schema.columns "
                                      "WHERE table_name = 'results' AND column_name IN ('metrics', 'details') "
                                      "AND table_schema = current_schema()")).all()
            assert sorted(kinds) == [("details", "json"), ("metrics", "json")]
    engine.dispose()

    app = create_app(Settings(db_url=db_url, jobs_enabled=False))
    with TestClient(app) as client:
        from collector.users import service as users

        with app.state.sessionmaker() as db:
            _, key = users.add(db=db, name="admin", role="admin")
            db.commit()
        h = {"Authorization": f"Bearer {key}"}
        items = client.get("/api/v1/results?host=old01&limit=1000", headers=h).json()["items"]
        assert sorted(i["id"] for i in items) == sorted(str(u) for u in ids)
        assert items[0]["started_at"] == "2026-10-31T23:59:59+08:00" and items[0]["status"] == "CRITICAL"
        [ticket] = client.get("/api/v1/tickets?status=open", headers=h).json()["items"]
        assert ticket["number"] == "FW-202610-0001" and ticket["host"] == "old01"
        # the old host's token still works, and new results land beside the old ones
        now = datetime.now(timezone.utc)
        body = {"agent": {}, "results": [{"id": str(uuid7(now)), "host": "old01", "check": "voucher-log",
                                          "system": "voucher", "status": "OK", "started_at": now.isoformat()}]}
        reply = client.post("/api/v1/results", json=body, headers={"Authorization": "Bearer xja_old"})
        assert reply.status_code == 200 and reply.json()["accepted"] == 1
