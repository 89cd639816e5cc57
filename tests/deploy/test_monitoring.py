"""Prometheus rules and config (promtool), the Grafana dashboard, and the systemd units."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROM = DEPLOY / "prometheus"

# The collector's metric names (README contract); histograms also expose _bucket/_sum/_count.
COLLECTOR_METRICS = {
    "xunjian_check_status", "xunjian_check_last_run_timestamp_seconds", "xunjian_agent_last_seen_timestamp_seconds",
    "xunjian_host_online", "xunjian_disk_used_ratio", "xunjian_disk_free_bytes", "xunjian_tickets_open",
    "xunjian_tickets_sla_breached", "xunjian_sla_breaches_total", "xunjian_ingest_results_total",
    "xunjian_ingest_request_duration_seconds", "xunjian_job_failures_total",
    "xunjian_job_last_success_timestamp_seconds",
}
HISTOGRAMS = {"xunjian_ingest_request_duration_seconds"}
METRIC = re.compile(r"\bxunjian_[a-z0-9_]+")


def promtool() -> str:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.skip("promtool is not installed (apt-get install -y prometheus)")
    return exe


def known(name: str) -> bool:
    if name in COLLECTOR_METRICS:
        return True
    base, _, suffix = name.rpartition("_")
    return base in HISTOGRAMS and suffix in ("bucket", "sum", "count")


def test_promtool_check_rules() -> None:
    proc = subprocess.run([promtool(), "check", "rules", str(PROM / "rules.yml")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_rule_unit_tests() -> None:
    proc = subprocess.run([promtool(), "test", "rules", "rules_test.yml"], cwd=PROM, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tested = {t["alertname"] for case in yaml.safe_load((PROM / "rules_test.yml").read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    assert {"XunjianDiskFillsWithin3Days", "XunjianAgentSilent"} <= tested


def test_rules_use_collector_metrics_and_chinese_runbooks() -> None:
    doc = yaml.safe_load((PROM / "rules.yml").read_text(encoding="utf-8"))
    rules = [r for g in doc["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {"XunjianDiskFillsWithin3Days", "XunjianAgentSilent", "XunjianSlaBreached",
            "XunjianCheckCriticalForLong"} <= names
    for r in rules:
        assert all(known(m) for m in METRIC.findall(r["expr"])), r["expr"]
        assert re.search(r"[\u4e00-\u9fff]", r["annotations"]["summary"]), r["alert"]
        assert "处理步骤" in r["annotations"]["description"], r["alert"]
    disk = next(r for r in rules if r["alert"] == "XunjianDiskFillsWithin3Days")
    assert "predict_linear(xunjian_disk_free_bytes" in disk["expr"]
    silent = next(r for r in rules if r["alert"] == "XunjianAgentSilent")
    assert "xunjian_agent_last_seen_timestamp_seconds) > 300" in silent["expr"]
    assert silent["expr"].startswith("time() - ")


def test_promtool_check_config(tmp_path: Path) -> None:
    cfg = yaml.safe_load((PROM / "prometheus.yml").read_text())
    cfg["rule_files"] = [str(PROM / "rules.yml")]  # the example points at /etc/prometheus
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([promtool(), "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "xunjian-fleet.json").read_text(encoding="utf-8"))


def exprs(dash: dict) -> list[str]:
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def test_dashboard_has_expected_panels() -> None:
    dash = dashboard()
    assert dash["uid"] == "xunjian-fleet"
    titles = {p["title"] for p in dash["panels"]}
    assert {"各单位各系统最差状态", "磁盘使用率", "剩余空间与 3 天预测", "预计写满天数（按 6 小时趋势）",
            "未关闭工单（按级别）", "SLA 超时", "在线代理", "离线代理"} <= titles
    assert {v["name"] for v in dash["templating"]["list"]} >= {"unit", "system"}
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["targets"], p["title"]


def test_dashboard_uses_only_collector_metrics() -> None:
    used = {m for e in exprs(dashboard()) for m in METRIC.findall(e)}
    unknown = {m for m in used if not known(m)}
    assert not unknown, unknown
    assert {"xunjian_check_status", "xunjian_disk_free_bytes", "xunjian_tickets_sla_breached"} <= used


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """Every panel query is valid PromQL: wrap them as recording rules and let promtool parse them."""
    rules = [{"record": f"xunjian:dashboard_query_{i}", "expr": e.replace("$unit", ".*").replace("$system", ".*")}
             for i, e in enumerate(exprs(dashboard()))]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, allow_unicode=True))
    proc = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("path", "unit"), [
    ("systemd/xunjian-agent.service", "xunjian-agent.service"),
    ("systemd/xunjian-collector.service", "xunjian-collector.service"),
    ("production/xunjian-collector@.service", "xunjian-collector@8001.service"),
])
def test_systemd_units_verify(tmp_path: Path, path: str, unit: str) -> None:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze is not installed")
    text = (DEPLOY / path).read_text()
    # verify insists the ExecStart binary exists: point it at a stand-in under tmp.
    binary = re.search(r"^ExecStart=(\S+)", text, re.M).group(1)  # type: ignore[union-attr]
    stand_in = tmp_path / "bin" / Path(binary).name
    stand_in.parent.mkdir()
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    (tmp_path / unit).write_text(text.replace(binary, str(stand_in)))
    proc = subprocess.run([exe, "verify", str(tmp_path / unit)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "", proc.stderr


def test_agent_unit_is_hardened() -> None:
    text = (DEPLOY / "systemd" / "xunjian-agent.service").read_text()
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/xunjian-agent",
                 "PrivateTmp=yes", "ProtectHome=read-only", "Restart=on-failure"):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    assert re.search(r"^MemoryMax=\d+[KMG]$", text, re.M)
