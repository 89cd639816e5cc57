"""Alertmanager webhook payloads (version 4) written by hand, for the cases a real Alertmanager only
produces by accident: each alert's own status and fingerprint decide, endsAt of firing alerts is
ignored, late and repeated notifications change nothing."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from collector.db import utcnow
from tests.collector.factories import minutes_ago


def go_time(dt: datetime) -> str:
    """As Alertmanager prints times: RFC 3339 in UTC with nanoseconds."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def alert(fp: str, status: str = "firing", starts: datetime | None = None, ends: datetime | None = None,
          **labels: str) -> dict[str, Any]:
    starts = starts or minutes_ago(10)
    return {"status": status, "fingerprint": fp, "startsAt": go_time(starts),
            "endsAt": go_time(ends) if ends else "0001-01-01T00:00:00Z", "generatorURL": "http://prom:9090/graph",
            "labels": {"alertname": "VoucherQueueDepth", "host": "web01", "severity": "critical",
                       "system": "mq", **labels},
            "annotations": {"summary": "凭证队列积压", "description": "Q.VOUCHER.IN 深度超过 5000"}}


def notification(*alerts: dict[str, Any], status: str = "firing", **extra: Any) -> dict[str, Any]:
    return {"version": "4", "groupKey": "{}:{alertname=\"VoucherQueueDepth\"}", "truncatedAlerts": 0,
            "status": status, "receiver": "xunjian", "groupLabels": {"alertname": "VoucherQueueDepth"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093", "alerts": list(alerts),
            **extra}


def send(api: Any, payload: dict[str, Any], key: str | None = None) -> dict[str, int]:
    r = api.client.post("/api/v1/alertmanager", json=payload, headers=api.h(key or api.engineer_key))
    assert r.status_code == 200, r.text
    return r.json()


def am_tickets(api: Any) -> list[dict[str, Any]]:
    return [t for t in api.get("/api/v1/tickets")["items"] if t["source"] == "alertmanager"]


def test_firing_opens_a_ticket_with_the_alerts_facts(api):
    starts = minutes_ago(10)
    counts = send(api, notification(alert("fp1", starts=starts)))
    assert counts["opened"] == 1
    [t] = am_tickets(api)
    assert (t["host"], t["check"], t["system"], t["severity"], t["channel"]) == (
        "web01", "VoucherQueueDepth", "mq", "critical", "auto")
    assert t["title"] == "凭证队列积压" and "Q.VOUCHER.IN" in t["description"]
    assert (t["customer_unit"], t["room"]) == ("某市财政局", "301")  # from the enrolled host
    assert abs(datetime.fromisoformat(t["opened_at"]) - starts) < timedelta(milliseconds=1)
    assert t["fault_key"] == "am:fp1" and t["response_due_at"] is not None


def test_repeats_are_harmless_and_a_new_start_is_an_occurrence(api):
    a = alert("fp1")
    for _ in range(3):  # repeat_interval resends and retries carry the same startsAt
        send(api, notification(a))
    [t] = am_tickets(api)
    assert t["occurrences"] == 1
    send(api, notification(alert("fp1", starts=minutes_ago(2))))  # the same fingerprint, fired anew
    [t] = am_tickets(api)
    assert t["occurrences"] == 2


def test_each_alert_decides_for_itself_not_the_group_status(api):
    starts = minutes_ago(10)
    send(api, notification(alert("fpA", starts=starts), alert("fpB", starts=starts, host="web02")))
    assert len(am_tickets(api)) == 2
    # the group still fires (fpB), but fpA is resolved inside it
    counts = send(api, notification(alert("fpA", "resolved", starts=starts, ends=minutes_ago(1)),
                                    alert("fpB", starts=starts, host="web02"), status="firing"))
    assert counts == {"opened": 0, "updated": 0, "resolved": 1, "ignored": 1, "suppressed": 0}
    by_fp = {t["fault_key"]: t for t in am_tickets(api)}
    assert by_fp["am:fpA"]["status"] == "resolved" and by_fp["am:fpB"]["status"] == "open"
    assert abs(datetime.fromisoformat(by_fp["am:fpA"]["resolved_at"]) - minutes_ago(1)) < timedelta(seconds=5)
    # and a "resolved" group may still carry a firing alert: it stays open
    send(api, notification(alert("fpB", starts=starts, host="web02"), status="resolved"))
    assert {t["fault_key"]: t["status"] for t in am_tickets(api)}["am:fpB"] == "open"


def test_ends_at_of_a_firing_alert_is_ignored(api):
    # Alertmanager puts a (resolve_timeout) endsAt on firing alerts; even one in the past does not resolve
    send(api, notification(alert("fp1", ends=minutes_ago(5))))
    [t] = am_tickets(api)
    assert t["status"] == "open" and t["resolved_at"] is None


def test_old_firing_notification_after_resolution_does_not_reopen(api):
    starts = minutes_ago(10)
    send(api, notification(alert("fp1", starts=starts)))
    send(api, notification(alert("fp1", "resolved", starts=starts, ends=minutes_ago(3)), status="resolved"))
    counts = send(api, notification(alert("fp1", starts=starts)))  # delayed retry of the first delivery
    assert counts["ignored"] == 1
    [t] = am_tickets(api)
    assert t["status"] == "resolved"


def test_fault_back_after_resolution_opens_a_new_linked_ticket(api):
    first = minutes_ago(30)
    send(api, notification(alert("fp1", starts=first)))
    send(api, notification(alert("fp1", "resolved", starts=first, ends=minutes_ago(20)), status="resolved"))
    counts = send(api, notification(alert("fp1", starts=minutes_ago(5))))
    assert counts["opened"] == 1
    new, old = am_tickets(api)
    assert (new["status"], old["status"]) == ("open", "resolved")
    assert new["previous_ticket_id"] == old["id"]
    # a late "resolved" for the first incarnation does not resolve the second
    send(api, notification(alert("fp1", "resolved", starts=first, ends=minutes_ago(20)), status="resolved"))
    assert am_tickets(api)[0]["status"] == "open"


def test_unknown_fields_are_accepted_and_bad_requests_refused(api):
    extra = alert("fp1")
    extra["silencedBy"] = []
    extra["labels"]["team"] = "运维"
    counts = send(api, notification(extra, futureField={"x": 1}))
    assert counts["opened"] == 1
    assert send(api, notification({"status": "firing"}))["ignored"] == 1  # no fingerprint
    r = api.client.post("/api/v1/alertmanager", json=notification(alert("fp2")), headers=api.h("xj_wrong"))
    assert r.status_code == 401
    r = api.client.post("/api/v1/alertmanager", json=notification(alert("fp2")))
    assert r.status_code == 401
    r = api.client.post("/api/v1/alertmanager", json=notification(alert("fp2")), headers=api.h(api.viewer_key))
    assert r.status_code == 403
    r = api.client.post("/api/v1/alertmanager", json={"alerts": "nope"}, headers=api.h(api.engineer_key))
    assert r.status_code == 422
    r = api.client.post("/api/v1/alertmanager", content=b"{not json", headers={
        **api.h(api.engineer_key), "Content-Type": "application/json"})
    assert r.status_code == 422
    assert len(am_tickets(api)) == 1


def test_alert_inside_a_window_opens_its_ticket_once_the_window_is_over(api):
    r = api.client.post("/api/v1/maintenance", headers=api.h(api.engineer_key), json={
        "title": "MQ 升级", "host": "web01", "starts_at": minutes_ago(30).isoformat(),
        "ends_at": (utcnow() + timedelta(seconds=2)).isoformat()})
    assert r.status_code == 201
    ends = datetime.fromisoformat(r.json()["ends_at"])
    a = alert("fp1", starts=minutes_ago(10))
    assert send(api, notification(a))["suppressed"] == 1
    assert am_tickets(api) == []
    time.sleep(max(0.0, (ends - utcnow()).total_seconds()) + 0.1)
    assert send(api, notification(a))["opened"] == 1  # the next repeat, after the window
    [t] = am_tickets(api)
    assert t["reported_at"] == r.json()["ends_at"]  # the SLA clock starts when maintenance ends
