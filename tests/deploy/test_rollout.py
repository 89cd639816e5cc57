"""End to end over a real sshd on loopback: install, re-run, upgrade, rollback, status, uninstall.

The agent runs for real (started with setsid/nohup: systemd is not PID 1 here) and sends its results
to a real collector, where the rollout sees them arrive.
"""
from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from deploy.cli import main

pytestmark = pytest.mark.slow


def run(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capfd.readouterr()
    return code, out + err


def row(output: str, host: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.startswith(host + " ")]
    assert lines, output
    return lines[-1]


def agent_pid(prefix: Path) -> int | None:
    try:
        pid = int((prefix / "var/lib/xunjian-agent/agent.pid").read_text())
    except (OSError, ValueError):
        return None
    try:
        return pid if b"xunjian-agent" in Path(f"/proc/{pid}/cmdline").read_bytes() else None
    except OSError:
        return None


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_full_lifecycle(tmp_path: Path, sshd: Any, sshd_factory: Any, make_inventory: Any, collector: Any,
                        bundle_v1: Any, bundle_v2: Any, capfd: pytest.CaptureFixture[str]) -> None:
    """Through a bastion (ProxyJump), as most customer servers are reached."""
    bastion = sshd_factory(log_level="DEBUG1")
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line() + bastion.known_hosts_line())
    prefix = tmp_path / "root"
    inv = make_inventory([{"name": "web01", "address": "127.0.0.1", "port": sshd.port, "jump": "bastion",
                           "labels": {"unit": "某市财政局", "room": "301", "contact": "张三"}}],
                         known_hosts=known, prefix=prefix,
                         jump_hosts={"bastion": {"address": "127.0.0.1", "port": bastion.port}})
    opt = prefix / "opt/xunjian-agent"
    etc = prefix / "etc/xunjian"
    state = prefix / "var/lib/xunjian-agent"
    outputs: list[str] = []

    code, out = run(capfd, "install", "-i", str(inv), "--bundle", str(bundle_v1.path), "--verify-timeout", "60")
    outputs.append(out)
    assert code == 0, out
    line = row(out, "web01")
    assert "成功" in line and bundle_v1.version in line and "结果已到达" in line
    assert "nohup" in line  # systemd is not PID 1 on this machine: the row says so
    assert os.readlink(opt / "current") == f"releases/{bundle_v1.version}"
    assert list((opt / "current").glob("lib/python3*/site-packages/ahocorasick_rs"))  # the `fast` extra
    assert stat.S_IMODE((etc / "agent.yaml").stat().st_mode) == 0o640
    assert stat.S_IMODE((etc / "agent.token").stat().st_mode) == 0o600
    token = (etc / "agent.token").read_text().strip()
    assert token and token not in (etc / "agent.yaml").read_text()
    first_pid = agent_pid(prefix)
    assert first_pid is not None

    # Re-running changes nothing: no copy, no restart, no re-enrollment.
    code, out = run(capfd, "install", "-i", str(inv), "--bundle", str(bundle_v1.path))
    outputs.append(out)
    assert code == 0, out
    line = row(out, "web01")
    assert "无变化" in line and "跳过复制" in line
    assert agent_pid(prefix) == first_pid
    assert (etc / "agent.token").read_text().strip() == token

    # A changed label rewrites the config and restarts the agent, without enrolling again.
    inv.write_text(inv.read_text(encoding="utf-8").replace("'301'", "'302'"), encoding="utf-8")
    code, out = run(capfd, "install", "-i", str(inv), "--bundle", str(bundle_v1.path), "--verify-timeout", "60")
    outputs.append(out)
    assert code == 0, out
    line = row(out, "web01")
    assert "配置已更新" in line and "已重启" in line and "已注册" not in line and "跳过复制" in line
    assert "room: '302'" in (etc / "agent.yaml").read_text(encoding="utf-8")
    assert (etc / "agent.token").read_text().strip() == token
    assert agent_pid(prefix) not in (None, first_pid)
    first_pid = agent_pid(prefix)

    code, out = run(capfd, "upgrade", "-i", str(inv), "--bundle", str(bundle_v2.path), "--verify-timeout", "60")
    outputs.append(out)
    assert code == 0, out
    assert "成功" in row(out, "web01") and bundle_v2.version in row(out, "web01")
    assert os.readlink(opt / "current") == f"releases/{bundle_v2.version}"
    assert os.readlink(opt / "previous") == f"releases/{bundle_v1.version}"
    assert (opt / "releases" / bundle_v1.version / "bin/xunjian-agent").exists()
    assert agent_pid(prefix) not in (None, first_pid)

    code, out = run(capfd, "rollback", "-i", str(inv), "--verify-timeout", "60")
    outputs.append(out)
    assert code == 0, out
    assert f"{bundle_v2.version} → {bundle_v1.version}" in row(out, "web01")
    assert os.readlink(opt / "current") == f"releases/{bundle_v1.version}"

    code, out = run(capfd, "status", "-i", str(inv))
    outputs.append(out)
    assert code == 0, out
    line = row(out, "web01")
    assert "运行中" in line and bundle_v1.version in line and "最近结果" in line

    pid = agent_pid(prefix)
    code, out = run(capfd, "uninstall", "-i", str(inv))
    outputs.append(out)
    assert code == 0, out
    assert "成功" in row(out, "web01")
    assert not opt.exists() and not (etc / "agent.yaml").exists() and not (etc / "agent.token").exists()
    assert state.is_dir()  # kept without --purge
    assert pid is not None and not alive(pid)

    code, out = run(capfd, "uninstall", "-i", str(inv), "--purge")
    outputs.append(out)
    assert code == 0 and not state.exists(), out

    assert f"target 127.0.0.1 port {sshd.port}" in bastion.log.read_text()  # every session went via the bastion

    # No secret in anything the tool printed.
    everything = "\n".join(outputs)
    assert collector.api_key not in everything
    assert token not in everything


def test_bad_host_fails_alone(tmp_path: Path, sshd: Any, make_inventory: Any, bundle_v1: Any,
                              capfd: pytest.CaptureFixture[str]) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line())
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    inv = make_inventory([
        {"name": "bad01", "address": "127.0.0.1", "port": dead_port, "labels": {"unit": "某县财政局"}},
        {"name": "good01", "address": "127.0.0.1", "port": sshd.port, "labels": {"unit": "某县财政局"}},
    ], known_hosts=known)
    code, out = run(capfd, "install", "-i", str(inv), "--bundle", str(bundle_v1.path), "--parallel", "2",
                    "--verify-timeout", "60")
    assert code == 1, out
    assert "失败" in row(out, "bad01") and "无法连接" in row(out, "bad01")
    assert "成功" in row(out, "good01")
    assert "共 2 台，失败 1 台" in out
    code, out = run(capfd, "uninstall", "-i", str(inv), "--hosts", "good01", "--purge")
    assert code == 0, out


def test_invalid_agent_config_fails_before_enrolling(tmp_path: Path, sshd: Any, make_inventory: Any,
                                                     bundle_v1: Any, capfd: pytest.CaptureFixture[str]) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line())
    prefix = tmp_path / "root"
    inv = make_inventory([{"name": "typo01", "address": "127.0.0.1", "port": sshd.port,
                           "checks": [{"name": "root-disk", "type": "disk", "mounts": ["/"], "colour": "red"}]}],
                         known_hosts=known, prefix=prefix)
    code, out = run(capfd, "install", "-i", str(inv), "--bundle", str(bundle_v1.path))
    assert code == 1, out
    line = row(out, "typo01")
    assert "代理配置校验失败" in line and "colour" in line
    assert not (prefix / "etc/xunjian/agent.token").exists()  # not enrolled
    assert not (prefix / "opt/xunjian-agent/current").exists()  # nothing switched
    assert main(["uninstall", "-i", str(inv), "--purge"]) == 0


def test_failed_upgrade_rolls_back_by_itself(tmp_path: Path, sshd: Any, make_inventory: Any, bundle_v1: Any,
                                             bundle_broken: Any, capfd: pytest.CaptureFixture[str]) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line())
    prefix = tmp_path / "root"
    opt = prefix / "opt/xunjian-agent"
    inv = make_inventory([{"name": "web03", "address": "127.0.0.1", "port": sshd.port}],
                         known_hosts=known, prefix=prefix)
    code, out = run(capfd, "install", "-i", str(inv), "--bundle", str(bundle_v1.path), "--verify-timeout", "60")
    assert code == 0, out
    code, out = run(capfd, "upgrade", "-i", str(inv), "--bundle", str(bundle_broken.path))
    assert code == 1, out
    line = row(out, "web03")
    assert "失败" in line and "启动后立即退出" in line and f"已自动回滚到 {bundle_v1.version}" in line
    assert os.readlink(opt / "current") == f"releases/{bundle_v1.version}"
    assert not (opt / "previous").exists()  # as before the failed upgrade
    assert (opt / "releases" / bundle_broken.version).is_dir()  # kept for inspection
    pid = agent_pid(prefix)
    assert pid is not None and alive(pid)
    code, out = run(capfd, "status", "-i", str(inv))
    assert code == 0 and bundle_v1.version in row(out, "web03"), out
    assert main(["uninstall", "-i", str(inv), "--purge"]) == 0
