"""Inventory parsing, config rendering and the result table (no SSH needed)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from deploy.errors import DeployError
from deploy.inventory import load_inventory
from deploy.output import HostReport, RolloutOutput, Secrets, display_width
from deploy.render import agent_config, agent_unit

EXAMPLE = """
defaults: {user: root, port: 22, key: ~/.ssh/id_ed25519, sudo: false, known_hosts: ~/.ssh/known_hosts,
           checks: [{name: root-disk, type: disk, system: os, interval: 60s, mounts: ["/"]}]}
collector: {url: "http://10.1.2.3:8000/", api_key_env: XUNJIAN_API_KEY}
hosts:
  - {name: web01, address: 10.1.2.10, labels: {unit: 某市财政局, room: "301"}, jump: bastion,
     checks: [{name: voucher-log, type: log, system: voucher, interval: 30s,
               paths: ["/opt/voucher/logs/*.log"], encoding: gbk, from: end,
               patterns: {critical: ["ERROR"], warning: ["WARN"]}}]}
  - {name: web02, address: 10.1.2.11, port: 2222, user: ops, sudo: true, labels: {unit: 某县财政局}}
  - {name: old01, address: 10.1.2.12, enabled: false}
jump_hosts: {bastion: {address: 10.1.2.1, user: ops, key: /keys/ops}}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "inventory.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_example_inventory(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, EXAMPLE))
    assert [h.name for h in inv.hosts] == ["web01", "web02"]  # disabled hosts are left out
    web01, web02 = inv.hosts
    assert web01.endpoint.jump is not None and web01.endpoint.jump.user == "ops"
    assert web01.endpoint.jump.key == "/keys/ops"
    assert web01.endpoint.key == str(Path("~/.ssh/id_ed25519").expanduser())
    assert web01.checks[0]["name"] == "voucher-log"
    assert web02.checks[0]["name"] == "root-disk"  # from defaults
    assert (web02.endpoint.port, web02.endpoint.user, web02.sudo) == (2222, "ops", True)
    assert inv.collector.url == "http://10.1.2.3:8000"
    assert inv.paths.install == "/opt/xunjian-agent" and inv.paths.config_file == "/etc/xunjian/agent.yaml"
    assert [h.name for h in inv.select(["web02"])] == ["web02"]
    with pytest.raises(DeployError, match="nope"):
        inv.select(["nope"])


def test_prefix_moves_every_path(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, EXAMPLE), prefix="/tmp/x/")
    assert inv.paths.install == "/tmp/x/opt/xunjian-agent"
    assert inv.paths.token_file == "/tmp/x/etc/xunjian/agent.token"
    assert inv.paths.state == "/tmp/x/var/lib/xunjian-agent"
    unit = agent_unit(inv.paths)
    assert "ReadWritePaths=/tmp/x/var/lib/xunjian-agent" in unit
    exec_start = ("ExecStart=/tmp/x/opt/xunjian-agent/current/bin/xunjian-agent run "
                  "--config /tmp/x/etc/xunjian/agent.yaml")
    assert exec_start in unit


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["collector"].update(api_key="s3cret"), "api_key_env"),
    (lambda d: d["hosts"][0].update(jump="nowhere"), "跳板机"),
    (lambda d: d["hosts"][1].update(name="web01"), "重复"),
    (lambda d: d["hosts"][0].update(colour="red"), "colour"),
    (lambda d: d.update(extra=1), "extra"),
    (lambda d: d["hosts"][0].pop("address"), "address"),
    (lambda d: d["hosts"][0].update(agent={"checks": []}), "不支持"),
])
def test_inventory_errors(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(EXAMPLE)
    edit(doc)
    with pytest.raises(DeployError, match=message):
        load_inventory(write(tmp_path, yaml.safe_dump(doc, allow_unicode=True)))


def test_agent_config_has_no_token_and_round_trips(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, EXAMPLE))
    doc = yaml.safe_load(agent_config(inv.hosts[0], inv.collector, inv.paths))
    assert doc["collector"] == {"url": "http://10.1.2.3:8000", "token_file": "/etc/xunjian/agent.token"}
    assert doc["host"] == {"name": "web01", "labels": {"unit": "某市财政局", "room": "301"}}
    assert doc["state_dir"] == "/var/lib/xunjian-agent"
    assert doc["checks"][0]["encoding"] == "gbk"


def test_table_masks_secrets_and_aligns_chinese() -> None:
    secrets = Secrets()
    secrets.add("tok-123456")
    buf = io.StringIO()
    out = RolloutOutput(secrets, out=buf, err=io.StringIO())
    out.table([
        HostReport("web01", "install", "成功", "0.1.0", 1.25, "已注册"),
        HostReport("db01", "install", "失败", "", 0.5, "error near tok-123456"),
    ])
    text = buf.getvalue()
    assert "tok-123456" not in text and "***" in text
    lines = text.splitlines()
    # columns line up in display width, Chinese characters counting double
    col = [display_width(ln[: ln.index("install")]) for ln in lines[1:3]]
    assert col[0] == col[1]
    assert lines[-1] == "共 2 台，失败 1 台"
