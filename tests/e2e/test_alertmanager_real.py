"""The real Alertmanager (Debian's prometheus-alertmanager) delivers to a real collector process: a firing
alert opens a ticket (source alertmanager), repeat_interval resends change nothing, a resolved alert
resolves it, and a receiver configured with a wrong API key is refused."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import bin_path, free_port, run_cli, wait_http
from tests.e2e.test_foundation import wait_for

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


def http(url: str, body: Any = None, key: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode()


class Proc:
    def __init__(self, args: list[str], log: Path) -> None:
        self.log = open(log, "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp_path = tmp_path_factory.mktemp("am")
    if not shutil.which(ALERTMANAGER):
        pytest.skip("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")
    db = f"sqlite:///{tmp_path / 'xunjian.db'}"
    env = {"XUNJIAN_DB_URL": db}
    cli = bin_path("xunjian-collector")
    run_cli(cli, "agent", "enroll", "am-host", "--unit", "某市财政局", "--room", "301", env=env)
    key = run_cli(cli, "user", "add", "alertmanager", "--role", "engineer", env=env).strip().splitlines()[-1]
    admin = run_cli(cli, "user", "add", "am-admin", "--role", "admin", env=env).strip().splitlines()[-1]
    cport, aport = free_port(), free_port()
    collector = Proc([cli, "serve", "--db", db, "--port", str(cport)], tmp_path / "collector.log")
    hook = f"http://127.0.0.1:{cport}/api/v1/alertmanager"
    config = tmp_path / "alertmanager.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "route": {"receiver": "xunjian", "group_by": ["alertname", "host"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "2s",
                  "routes": [{"matchers": ['team="wrong"'], "receiver": "wrong-key"}]},
        "receivers": [
            {"name": "xunjian", "webhook_configs": [{"url": hook, "send_resolved": True, "http_config": {
                "authorization": {"credentials": key}}}]},
            {"name": "wrong-key", "webhook_configs": [{"url": hook, "send_resolved": True, "http_config": {
                "authorization": {"credentials": "xj_not_a_key"}}}]},
        ]}), encoding="utf-8")
    am = Proc([ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
               f"--web.listen-address=127.0.0.1:{aport}", "--cluster.listen-address=",
               "--log.level=debug"], tmp_path / "alertmanager.log")
    try:
        wait_http(f"http://127.0.0.1:{cport}/healthz")
        wait_http(f"http://127.0.0.1:{aport}/-/ready")
        yield {"collector": f"http://127.0.0.1:{cport}", "am": f"http://127.0.0.1:{aport}", "admin": admin,
               "logs": tmp_path}
    finally:
        am.stop()
        collector.stop()


def post_alert(s: dict[str, Any], ends: datetime | None = None, starts: datetime | None = None,
               **labels: str) -> None:
    a: dict[str, Any] = {
        "labels": {"alertname": "VoucherQueueDepth", "host": "am-host", "severity": "critical", "system": "mq",
                   "unit": "某市财政局", **labels},
        "annotations": {"summary": "凭证队列积压", "description": "Q.VOUCHER.IN 深度 6200, 超过 5000"},
        "generatorURL": "http://127.0.0.1:9090/graph"}
    if starts:
        a["startsAt"] = starts.isoformat()
    if ends:
        a["endsAt"] = ends.isoformat()
    http(s["am"] + "/api/v2/alerts", [a])


def am_tickets(s: dict[str, Any]) -> list[dict[str, Any]]:
    items = http(s["collector"] + "/api/v1/tickets", key=s["admin"])["items"]
    return [t for t in items if t["source"] == "alertmanager"]


def webhook_sends(s: dict[str, Any], metric: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for fam in text_string_to_metric_families(http(s["am"] + "/metrics")):
        for sample in fam.samples:
            if sample.name == metric and sample.labels.get("integration") == "webhook":
                total += sample.value
    return total


def test_real_alertmanager_opens_and_resolves_a_ticket(stack: dict[str, Any]) -> None:
    s = stack
    starts = datetime.now(timezone.utc) - timedelta(seconds=30)
    post_alert(s, starts=starts)
    [t] = wait_for(lambda: am_tickets(s), timeout=30)
    assert (t["host"], t["check"], t["system"], t["severity"], t["status"]) == (
        "am-host", "VoucherQueueDepth", "mq", "critical", "open")
    assert t["customer_unit"] == "某市财政局" and t["title"] == "凭证队列积压"
    assert t["fault_key"].startswith("am:")

    # Prometheus keeps re-sending the firing alert, Alertmanager re-notifies every repeat_interval
    sent = webhook_sends(s, "alertmanager_notifications_total")
    deadline = time.monotonic() + 30
    while webhook_sends(s, "alertmanager_notifications_total") < sent + 3 and time.monotonic() < deadline:
        post_alert(s, starts=starts)
        time.sleep(1)
    assert webhook_sends(s, "alertmanager_notifications_total") >= sent + 3
    assert webhook_sends(s, "alertmanager_notifications_failed_total") == 0
    [t] = am_tickets(s)
    assert t["occurrences"] == 1 and t["status"] == "open"

    post_alert(s, starts=starts, ends=datetime.now(timezone.utc) - timedelta(seconds=1))
    resolved = wait_for(lambda: [x for x in am_tickets(s) if x["status"] == "resolved"], timeout=30)
    assert [x["id"] for x in resolved] == [t["id"]]
    assert "已恢复" in resolved[0]["resolution"]
    time.sleep(3)  # further resends of the resolved group change nothing
    assert [(x["id"], x["status"]) for x in am_tickets(s)] == [(t["id"], "resolved")]


def test_receiver_with_a_wrong_key_is_refused(stack: dict[str, Any]) -> None:
    s = stack
    post_alert(s, team="wrong", alertname="SealCertExpiry")
    wait_for(lambda: webhook_sends(s, "alertmanager_notifications_failed_total") >= 1, timeout=30)
    assert [t for t in am_tickets(s) if t["check"] == "SealCertExpiry"] == []
    log = (s["logs"] / "alertmanager.log").read_text(errors="replace")
    assert "401" in log
