"""Maintenance windows (维护窗口): results inside are kept but open no ticket, by host, unit or system;
a fault that persists after the window opens its ticket; silent agents inside a window are expected."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from checks.model import Status
from collector.db import utcnow
from collector.jobs.offline import detect_offline
from collector.timefmt import parse_iso
from tests.collector.factories import batch, minutes_ago, result


def window(api: Any, start_min: float, end_min: float, **sel: Any) -> dict[str, Any]:
    """A window from `start_min` minutes ago to `end_min` minutes ago (negative: in the future)."""
    r = api.client.post("/api/v1/maintenance", headers=api.h(api.engineer_key), json={
        "title": "凭证库升级", "starts_at": minutes_ago(start_min).isoformat(),
        "ends_at": minutes_ago(end_min).isoformat(), **sel})
    assert r.status_code == 201, r.text
    return r.json()


def bad(host: str = "web01", check: str = "voucher-log", at: float = 10, **kw: Any) -> dict[str, Any]:
    return batch(result(host=host, check=check, status=Status.CRITICAL, at=minutes_ago(at), **kw), host=host)


def tickets(api: Any) -> list[tuple[str, str]]:
    return sorted((t["host"], t["check"]) for t in api.get("/api/v1/tickets")["items"])


def post(api: Any, body: dict[str, Any]) -> None:
    token = api.token2 if body["agent"]["host"] == "web02" else api.token
    r = api.post_results(body, token=token)
    assert r.status_code == 200 and r.json()["accepted"] == len(body["results"]), r.text


def test_windows_api(api):
    w = window(api, 60, -60, host="web01", system="voucher")
    assert w["starts_at"].endswith("+08:00") and w["created_by"] == "zhang" and w["cancelled_at"] is None
    window(api, 600, 500, unit="某县财政局")  # already over
    listed = api.get("/api/v1/maintenance", key=api.viewer_key)["items"]
    assert len(listed) == 2
    assert [x["id"] for x in api.get("/api/v1/maintenance?active=true")["items"]] == [w["id"]]
    body = {"title": "x", "starts_at": minutes_ago(0).isoformat(), "ends_at": minutes_ago(10).isoformat()}
    assert api.client.post("/api/v1/maintenance", json=body, headers=api.h(api.engineer_key)).status_code == 422
    body["ends_at"] = minutes_ago(-10).isoformat()
    assert api.client.post("/api/v1/maintenance", json=body, headers=api.h(api.viewer_key)).status_code == 403
    assert api.client.post("/api/v1/maintenance", json={**body, "starts_at": "2026-11-25T10:00:00"},
                           headers=api.h(api.engineer_key)).status_code == 422  # no offset
    r = api.client.delete(f"/api/v1/maintenance/{w['id']}", headers=api.h(api.engineer_key))
    assert r.status_code == 200 and r.json()["cancelled_at"] is not None
    assert api.get("/api/v1/maintenance?active=true")["items"] == []
    assert api.client.delete("/api/v1/maintenance/99999", headers=api.h(api.engineer_key)).status_code == 404
    assert api.client.delete(f"/api/v1/maintenance/{w['id']}", headers=api.h(api.viewer_key)).status_code == 403


def test_window_by_host_keeps_results_and_opens_nothing(api):
    window(api, 30, -30, host="web01")
    post(api, bad("web01"))
    post(api, bad("web01", check="root-disk", system="os", type="disk"))
    post(api, bad("web02"))
    assert tickets(api) == [("web02", "voucher-log")]
    stored = api.get("/api/v1/results?host=web01")["items"]
    assert sorted(r["check"] for r in stored) == ["root-disk", "voucher-log"]
    assert all(r["status"] == "CRITICAL" for r in stored)
    assert api.get("/api/v1/hosts/web01")["online"] is True


def test_window_by_unit_and_by_system(api):
    window(api, 30, -30, unit="某县财政局")  # web02's unit
    window(api, 30, -30, system="voucher")  # every voucher library
    post(api, bad("web02", check="root-disk", system="os", type="disk"))
    post(api, bad("web01", check="voucher-log", system="voucher"))
    post(api, bad("web01", check="root-disk", system="os", type="disk"))
    assert tickets(api) == [("web01", "root-disk")]


def test_fault_persisting_after_the_window_opens_its_ticket(api):
    window(api, 30, 5, host="web01")
    post(api, bad(at=20))
    post(api, bad(at=10))
    assert tickets(api) == []
    later = minutes_ago(2)  # the window ended three minutes before
    post(api, batch(result(status=Status.CRITICAL, at=later)))
    [t] = api.get("/api/v1/tickets")["items"]
    assert t["check"] == "voucher-log" and t["occurrences"] == 1
    assert abs(parse_iso(t["reported_at"]) - later) < timedelta(seconds=1)


def test_fault_started_before_the_window_keeps_its_ticket_and_cancelled_windows_do_not_count(api):
    post(api, bad(at=40))
    w = window(api, 30, -30, host="web01")
    post(api, bad(at=20))  # the active ticket notes the occurrence: nothing new opens
    [t] = api.get("/api/v1/tickets")["items"]
    assert t["occurrences"] == 2
    api.client.delete(f"/api/v1/maintenance/{w['id']}", headers=api.h(api.engineer_key))
    post(api, bad("web01", check="root-disk", at=15, system="os", type="disk"))
    assert tickets(api) == [("web01", "root-disk"), ("web01", "voucher-log")]


def test_silent_agent_inside_a_window_opens_nothing_until_the_window_ends(api, settings):
    post(api, batch(result(at=minutes_ago(1)), heartbeat=30))
    w = window(api, 5, -60, host="web01")
    factory = api.app.state.sessionmaker
    silent_for = timedelta(seconds=30 * settings.tickets.offline_missed_heartbeats + 61)
    with factory() as db:
        assert detect_offline(db=db, now=utcnow() + silent_for, settings=settings) == []
        db.commit()
    assert tickets(api) == [] and api.get("/api/v1/hosts/web01")["online"] is True
    with factory() as db:  # after the window the silence is an incident
        after = utcnow() + timedelta(minutes=61)
        opened = detect_offline(db=db, now=after, settings=settings)
        db.commit()
    assert [t.check for t in opened] == ["agent"]
    assert parse_iso(w["ends_at"]) < after
    assert tickets(api) == [("web01", "agent")]


def test_system_window_does_not_cover_agent_silence(api, settings):
    post(api, batch(result(at=minutes_ago(1)), heartbeat=30))
    window(api, 5, -60, system="voucher")
    with api.app.state.sessionmaker() as db:
        opened = detect_offline(db=db, now=utcnow() + timedelta(minutes=3), settings=settings)
        db.commit()
    assert [t.check for t in opened] == ["agent"]
