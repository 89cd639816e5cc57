"""POST /api/v1/results: storage, idempotency, host scoping and refusal of bad input (SQLite and PostgreSQL)."""
from __future__ import annotations

import gzip
import json

from checks.model import Status
from collector.tickets.models import Ticket
from tests.collector.factories import batch, minutes_ago, result


def counts(api) -> tuple[int, int]:
    results = api.get("/api/v1/results?limit=1000")["items"]
    tickets = api.get("/api/v1/tickets?limit=1000")["items"]
    return len(results), len(tickets)


def test_batch_is_stored_and_listed_with_offsets(api):
    r1 = result(at=minutes_ago(2), critical_events=0)
    r2 = result(check="root-disk", system="os", type="disk", at=minutes_ago(1))
    reply = api.post_results(batch(r1, r2))
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    items = api.get("/api/v1/results?host=web01")["items"]
    assert [i["check"] for i in items] == ["root-disk", "voucher-log"]  # newest first
    item = items[1]
    assert item["id"] == str(r1.id) and item["status"] == "OK" and item["system"] == "voucher"
    assert item["started_at"].endswith("+08:00")
    assert {"name": "critical_events", "value": 0.0} .items() <= item["metrics"][0].items()


def test_same_result_twice_is_stored_once(api):
    r = result(status=Status.CRITICAL, critical_events=3)
    assert api.post_results(batch(r)).json()["accepted"] == 1
    again = api.post_results(batch(r)).json()
    assert again == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert counts(api) == (1, 1)
    assert api.get("/api/v1/tickets")["items"][0]["occurrences"] == 1


def test_agent_cannot_write_for_another_host(api):
    before = counts(api)
    reply = api.post_results(batch(result(host="web02")), token=api.token)
    assert reply.status_code == 403
    assert "web02" in reply.json()["detail"]["message"]
    mixed = api.post_results(batch(result(), result(host="web02")))
    assert mixed.status_code == 403
    assert counts(api) == before


def test_unknown_or_missing_token_is_refused(api):
    assert api.client.post("/api/v1/results", json=batch(result())).status_code == 401
    assert api.post_results(batch(result()), token="xja_not-a-token").status_code == 401
    # an operator API key is not an agent token
    assert api.post_results(batch(result()), token=api.admin_key).status_code == 401
    assert counts(api) == (0, 0)


def test_malformed_json_and_wrong_schema_change_nothing(api):
    h = {**api.h(api.token), "Content-Type": "application/json"}
    bad = api.client.post("/api/v1/results", content=b'{"agent": {}, "results": [', headers=h)
    assert bad.status_code == 400 and "JSON" in bad.json()["detail"]["message"]
    assert api.client.post("/api/v1/results", content=b"[1,2]", headers=h).status_code == 422
    good, broken = result(), result().to_dict()
    broken["status"] = "BROKEN"
    reply = api.post_results({"agent": {}, "results": [good.to_dict(), broken]})
    assert reply.status_code == 422
    errors = reply.json()["detail"]["errors"]
    assert errors[0]["index"] == 1 and "status" in errors[0]["error"]
    no_offset = result().to_dict()
    no_offset["started_at"] = "2026-11-25T10:00:00"
    assert api.post_results({"agent": {}, "results": [no_offset]}).status_code == 422
    deep = "[" * 5000 + "]" * 5000
    reply = api.client.post("/api/v1/results", content=f'{{"agent": {{}}, "results": {deep}}}'.encode(), headers=h)
    assert reply.status_code in (400, 422)
    assert counts(api) == (0, 0)


def test_oversized_batch_and_body_are_refused(api):
    many = batch(*[result(check=f"c{i}") for i in range(1001)])
    assert api.post_results(many).status_code == 413
    huge = json.dumps({"agent": {"pad": "x" * (5 * 1024 * 1024)}, "results": []}).encode()
    h = {**api.h(api.token), "Content-Type": "application/json"}
    assert api.client.post("/api/v1/results", content=huge, headers=h).status_code == 413
    bomb = gzip.compress(huge)
    reply = api.client.post("/api/v1/results", content=bomb, headers={**h, "Content-Encoding": "gzip"})
    assert reply.status_code == 413
    assert counts(api) == (0, 0)


def test_gzip_batch_is_accepted(api):
    body = gzip.compress(json.dumps(batch(result())).encode())
    h = {**api.h(api.token), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    reply = api.client.post("/api/v1/results", content=body, headers=h)
    assert reply.status_code == 200 and reply.json()["accepted"] == 1


def test_results_pages_follow_next(api):
    rs = [result(check=f"c{i:02d}", at=minutes_ago(30 - i)) for i in range(25)]
    api.post_results(batch(*rs))
    seen, path = [], "/api/v1/results?host=web01&limit=10"
    while path:
        page = api.get(path)
        seen += [i["check"] for i in page["items"]]
        path = page["next"]
    assert seen == [f"c{i:02d}" for i in reversed(range(25))]


def test_operator_endpoints_need_a_key(api):
    for path in ("/api/v1/results", "/api/v1/tickets", "/api/v1/hosts"):
        assert api.client.get(path).status_code == 401
        assert api.client.get(path, headers=api.h("xjk_wrong")).status_code == 401
    assert api.client.get("/healthz").status_code == 200
    assert api.client.get("/metrics").status_code == 200


def test_enroll_over_api_needs_admin(api):
    body = {"host": "web09", "labels": {"unit": "某市财政局"}}
    assert api.client.post("/api/v1/agents", json=body, headers=api.h(api.engineer_key)).status_code == 403
    reply = api.client.post("/api/v1/agents", json=body, headers=api.h(api.admin_key))
    assert reply.status_code == 200
    token = reply.json()["token"]
    assert api.post_results(batch(result(host="web09"), host="web09"), token=token).status_code == 200
    # re-enrolling rotates the token: the old one stops working
    api.client.post("/api/v1/agents", json=body, headers=api.h(api.admin_key))
    assert api.post_results(batch(result(host="web09"), host="web09"), token=token).status_code == 401


def test_a_ticket_carries_the_unit_room_and_labels_its_token_was_looked_up_with(api):
    """The token lookup (a cache miss: a driver-level read) returns the host's unit, room and labels as
    stored — JSON text on SQLite, json on PostgreSQL — and a new ticket copies them."""
    body = {"host": "web10", "labels": {"unit": "某市财政局", "room": "三楼机房", "rack": "A-07"}}
    token = api.client.post("/api/v1/agents", json=body, headers=api.h(api.admin_key)).json()["token"]
    bad = result(host="web10", status=Status.CRITICAL, critical_events=1)
    assert api.post_results(batch(bad, host="web10"), token=token).status_code == 200
    ticket = api.get("/api/v1/tickets?limit=10")["items"][0]
    assert (ticket["host"], ticket["customer_unit"], ticket["room"]) == ("web10", "某市财政局", "三楼机房")
    with api.app.state.sessionmaker() as db:
        stored = db.get(Ticket, ticket["id"])
        assert stored is not None and stored.labels == {"unit": "某市财政局", "room": "三楼机房", "rack": "A-07"}


def test_agent_block_rejected_total_is_shown_with_the_host(api):
    """An agent reports how many results it quarantined (its rejected.jsonl); the host view shows it,
    and a heartbeat without the field leaves it as it was."""
    assert api.get("/api/v1/hosts/web01")["rejected_total"] == 0
    assert api.post_results(batch(result(), rejected_total=3, dropped_total=1)).status_code == 200
    host = api.get("/api/v1/hosts/web01")
    assert (host["rejected_total"], host["dropped_total"]) == (3, 1)
    assert api.post_results(batch()).status_code == 200
    assert api.get("/api/v1/hosts/web01")["rejected_total"] == 3
    assert api.post_results(batch(rejected_total=-5)).status_code == 200  # nonsense is not stored
    assert {h["name"]: h["rejected_total"] for h in api.get("/api/v1/hosts")["items"]}["web01"] == 3
