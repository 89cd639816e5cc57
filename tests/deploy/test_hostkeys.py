"""Host key verification and ProxyJump against real sshd servers on loopback."""
from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from deploy.cli import main
from deploy.errors import DeployError
from deploy.inventory import Endpoint
from deploy.ssh import Connection


def endpoint(sshd: Any, key: Path, known: Path, jump: Endpoint | None = None, name: str = "t") -> Endpoint:
    return Endpoint(name=name, address="127.0.0.1", port=sshd.port, user="root", key=str(key),
                    password_env=None, known_hosts=str(known), jump=jump)


def test_known_key_connects_and_runs(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(sshd.known_hosts_line())
    with Connection(endpoint(sshd, client_key, known)) as conn:
        assert conn.run("echo 巡检").stdout.strip() == "巡检"
        assert conn.run("exit 3", check=False).code == 3
        with pytest.raises(DeployError, match="退出码 4"):
            conn.run("echo boom >&2; exit 4")


def test_unknown_key_refused_without_tofu(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    known = tmp_path / "known_hosts"
    with pytest.raises(DeployError, match="不在 known_hosts"):
        Connection(endpoint(sshd, client_key, known))
    assert not known.exists()


def test_unknown_key_accepted_and_recorded_with_tofu(tmp_path: Path, sshd: Any, client_key: Path) -> None:
    known = tmp_path / "known_hosts"
    with Connection(endpoint(sshd, client_key, known), tofu=True) as conn:
        assert conn.run("true").code == 0
    assert known.read_text().split() == sshd.known_hosts_line().split()
    # Recorded: the next connection needs no TOFU.
    with Connection(endpoint(sshd, client_key, known)) as conn:
        assert conn.run("true").code == 0


def test_changed_key_always_refused(tmp_path: Path, sshd: Any, sshd_factory: Any, client_key: Path) -> None:
    other = sshd_factory()  # another server: its key stands for the one recorded before a change
    known = tmp_path / "known_hosts"
    kind, b64 = other.host_key.with_suffix(".pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {b64}\n")
    for tofu in (False, True):
        with pytest.raises(DeployError, match="主机密钥已变更"):
            Connection(endpoint(sshd, client_key, known), tofu=tofu)
    assert known.read_text() == f"[127.0.0.1]:{sshd.port} {kind} {b64}\n"  # never overwritten


def test_changed_key_row_in_fleet_output(tmp_path: Path, sshd: Any, sshd_factory: Any, make_inventory: Any,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    other = sshd_factory()
    known = tmp_path / "known_hosts"
    kind, b64 = other.host_key.with_suffix(".pub").read_text().split()[:2]
    known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {b64}\n" + other.known_hosts_line())
    inv = make_inventory([
        {"name": "moved01", "address": "127.0.0.1", "port": sshd.port},
        {"name": "fine01", "address": "127.0.0.1", "port": other.port},
    ], known_hosts=known)
    code = main(["status", "-i", str(inv), "--trust-on-first-use"])
    out = capfd.readouterr().out
    assert code == 1
    moved = next(ln for ln in out.splitlines() if ln.startswith("moved01 "))
    fine = next(ln for ln in out.splitlines() if ln.startswith("fine01 "))
    assert "失败" in moved and "主机密钥已变更" in moved
    assert "未安装" in fine  # reached, nothing installed there


def test_proxy_jump_through_bastion(tmp_path: Path, sshd_factory: Any, client_key: Path) -> None:
    bastion = sshd_factory(log_level="DEBUG1")
    target = sshd_factory()
    known = tmp_path / "known_hosts"
    known.write_text(bastion.known_hosts_line() + target.known_hosts_line())
    jump = endpoint(bastion, client_key, known, name="bastion")
    with Connection(endpoint(target, client_key, known, jump=jump)) as conn:
        assert conn.run("echo via-jump").stdout.strip() == "via-jump"
        conn.upload_bytes(b"x", str(tmp_path / "uploaded"), 0o600)
    assert (tmp_path / "uploaded").read_bytes() == b"x"
    log = bastion.log.read_text()
    assert f"target 127.0.0.1 port {target.port}" in log  # the bastion forwarded the session


def test_proxy_jump_target_key_still_verified(tmp_path: Path, sshd_factory: Any, client_key: Path) -> None:
    bastion = sshd_factory()
    target = sshd_factory()
    known = tmp_path / "known_hosts"
    known.write_text(bastion.known_hosts_line())  # the target's key is unknown
    jump = endpoint(bastion, client_key, known, name="bastion")
    with pytest.raises(DeployError, match="不在 known_hosts"):
        Connection(endpoint(target, client_key, known, jump=jump))


def test_proxy_jump_to_a_dead_port_names_the_bastion(tmp_path: Path, sshd_factory: Any, client_key: Path) -> None:
    bastion = sshd_factory()
    known = tmp_path / "known_hosts"
    known.write_text(bastion.known_hosts_line())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    jump = endpoint(bastion, client_key, known, name="bastion")
    target = Endpoint(name="t", address="127.0.0.1", port=dead, user="root", key=str(client_key),
                      password_env=None, known_hosts=str(known), jump=jump)
    with pytest.raises(DeployError, match=f"跳板机 bastion 无法转发到 127.0.0.1:{dead}"):
        Connection(target)
