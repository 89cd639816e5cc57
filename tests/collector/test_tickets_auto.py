"""Anomaly → ticket: one ticket per (host, check), occurrences, recovery, numbering, offline agents."""
from __future__ import annotations

import re
from datetime import timedelta

from checks.model import Status
from collector.db import utcnow
from collector.jobs.offline import detect_offline
from tests.collector.factories import batch, minutes_ago, result


def oks(start_minutes_ago: float, n: int = 3, **kw):
    """n OK results a minute apart: what it takes to recover (recover_after defaults to 3)."""
    return [result(status=Status.OK, at=minutes_ago(start_minutes_ago - i * 0.1), **kw) for i in range(n)]


def tickets(api, status=None):
    q = f"?status={status}" if status else ""
    return api.get(f"/api/v1/tickets{q}")["items"]


def test_bad_results_open_one_ticket_and_ok_resolves_it(api):
    api.post_results(batch(result(status=Status.CRITICAL, critical_events=5, at=minutes_ago(5))))
    api.post_results(batch(result(status=Status.WARNING, at=minutes_ago(4))))
    api.post_results(batch(result(status=Status.CRITICAL, critical_events=1, at=minutes_ago(3))))
    open_ = tickets(api, "open")
    assert len(open_) == 1
    t = open_[0]
    assert re.fullmatch(r"FW-\d{6}-0001", t["number"])
    assert (t["host"], t["check"], t["system"], t["severity"]) == ("web01", "voucher-log", "voucher", "critical")
    assert t["occurrences"] == 3 and t["customer_unit"] == "某市财政局" and t["room"] == "301"
    assert t["opened_at"].endswith("+08:00") and t["resolved_at"] is None

    api.post_results(batch(*oks(2.9, 2)))
    assert len(tickets(api, "open")) == 1  # two quiet runs are not yet a recovery
    api.post_results(batch(result(status=Status.OK, at=minutes_ago(2))))
    assert tickets(api, "open") == []
    resolved = tickets(api, "resolved")
    assert [r["number"] for r in resolved] == [t["number"]]
    detail = api.get(f"/api/v1/tickets/{t['id']}")
    assert "恢复正常" in detail["resolution"]
    assert [e["kind"] for e in detail["timeline"]] == ["opened", "resolved"]


def test_fault_coming_back_opens_a_new_ticket_linked_to_the_old(api):
    api.post_results(batch(result(status=Status.CRITICAL, at=minutes_ago(5))))
    api.post_results(batch(*oks(4)))
    api.post_results(batch(result(status=Status.CRITICAL, at=minutes_ago(3))))
    all_ = tickets(api)
    assert len(all_) == 2
    new, old = all_
    assert new["status"] == "open" and old["status"] == "resolved"
    assert new["previous_ticket_id"] == old["id"]
    assert new["number"].endswith("0002")


def test_checks_and_hosts_have_separate_tickets(api):
    api.post_results(batch(result(status=Status.CRITICAL), result(check="root-disk", status=Status.WARNING)))
    api.post_results(batch(result(host="web02", status=Status.CRITICAL), host="web02"), token=api.token2)
    keys = sorted((t["host"], t["check"]) for t in tickets(api, "open"))
    assert keys == [("web01", "root-disk"), ("web01", "voucher-log"), ("web02", "voucher-log")]


def test_late_old_result_does_not_rewind_state(api):
    api.post_results(batch(result(status=Status.OK, at=minutes_ago(1))))
    api.post_results(batch(result(status=Status.CRITICAL, at=minutes_ago(10))))  # arrives late
    assert tickets(api, "open") == []
    assert len(api.get("/api/v1/results")["items"]) == 2


def test_batch_with_bad_then_ok_opens_and_resolves(api):
    api.post_results(batch(result(status=Status.CRITICAL, at=minutes_ago(3)), *oks(2)))
    assert [t["status"] for t in tickets(api)] == ["resolved"]


def test_one_good_sample_between_bad_ones_keeps_the_ticket(api):
    api.post_results(batch(result(status=Status.CRITICAL, at=minutes_ago(5))))
    api.post_results(batch(result(status=Status.OK, at=minutes_ago(4))))
    api.post_results(batch(result(status=Status.CRITICAL, at=minutes_ago(3))))
    [t] = tickets(api)
    assert t["status"] == "open" and t["occurrences"] == 2


def test_silent_agent_gets_an_offline_ticket_resolved_when_back(api, settings):
    api.post_results(batch(result(), heartbeat=30))
    factory = api.app.state.sessionmaker
    with factory() as db:
        assert detect_offline(db=db, now=utcnow(), settings=settings) == []
        later = utcnow() + timedelta(seconds=30 * settings.tickets.offline_missed_heartbeats + 61)
        opened = detect_offline(db=db, now=later, settings=settings)
        db.commit()
    assert len(opened) == 1
    t = tickets(api, "open")[0]
    assert (t["host"], t["check"], t["severity"]) == ("web01", "agent", "critical")
    assert api.get("/api/v1/hosts/web01")["online"] is False
    api.post_results(batch())  # a heartbeat
    assert tickets(api, "open") == []
    assert api.get("/api/v1/hosts/web01")["online"] is True
