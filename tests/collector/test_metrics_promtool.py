"""The collector's /metrics passes `promtool check metrics` (Prometheus' own linter), with data in it."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from checks.model import Metric, Status
from tests.collector.factories import batch, minutes_ago, result


def test_metrics_pass_promtool_and_have_bounded_labels(api) -> None:
    disk = result(check="root-disk", system="os", type="disk", status=Status.WARNING, at=minutes_ago(1))
    disk.metrics = [Metric("used_percent:/", 85, "%"), Metric("free_bytes:/", 4e9, "B")]
    api.post_results(batch(result(status=Status.CRITICAL, critical_events=2, at=minutes_ago(2)), disk))
    text = api.client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["xunjian_check_status"].samples
    used = [s for s in families["xunjian_disk_used_ratio"].samples if s.labels["host"] == "web01"]
    assert [(s.labels["mount"], s.value) for s in used] == [("/", 0.85)]
    open_ = {(s.labels["severity"], s.labels["system"]): s.value for s in families["xunjian_tickets_open"].samples}
    assert open_[("critical", "voucher")] == 1 and open_[("warning", "os")] == 1
    for fam in families.values():  # no label grows with tickets, messages or paths
        for s in fam.samples:
            assert not {"id", "number", "summary", "message", "path"} & set(s.labels)
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip("promtool is not installed (apt-get install -y prometheus)")
    out = subprocess.run([exe, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
