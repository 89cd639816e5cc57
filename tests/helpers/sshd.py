"""A real sshd on a free loopback port, logging in root by a test key (shared by tests/deploy and tests/agent).

Import the fixtures into a conftest or test module: `from tests.helpers.sshd import client_key, sshd, sshd_factory`.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "xunjian-test", "-f", str(path)],
                   check=True)
    return path


@dataclass
class Sshd:
    port: int
    host_key: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def known_hosts_line(self) -> str:
        kind, b64 = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {b64}\n"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_sshd(d: Path, client_key: Path, log_level: str = "ERROR", extra_config: str = "") -> Sshd:
    """An sshd in directory `d` (its own host key) letting root in with `client_key`; stop() it after."""
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    host_key = keygen(d / "host_ed25519")
    auth = d / "authorized_keys"
    auth.write_text(client_key.with_suffix(".pub").read_text())
    port = free_port()
    cfg = d / "sshd_config"
    cfg.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {d}/sshd.pid
AuthorizedKeysFile {auth}
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
Subsystem sftp internal-sftp
LogLevel {log_level}
{extra_config}""")
    log = d / "sshd.log"
    proc = subprocess.Popen([SSHD, "-D", "-f", str(cfg), "-E", str(log)])
    s = Sshd(port, host_key, log, proc)
    try:
        wait_port(port)
    except RuntimeError:
        s.stop()
        raise
    return s


@pytest.fixture(scope="session")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-server is not installed (apt-get install -y openssh-server)")
    return keygen(tmp_path_factory.mktemp("client") / "id_ed25519")


@pytest.fixture(scope="session")
def sshd_factory(tmp_path_factory: pytest.TempPathFactory, client_key: Path) -> Iterator[Any]:
    """start(log_level="ERROR", extra_config="") -> Sshd: a real sshd on a free 127.0.0.1 port, root login
    by our key."""
    started: list[Sshd] = []

    def start(log_level: str = "ERROR", extra_config: str = "") -> Sshd:
        s = start_sshd(tmp_path_factory.mktemp("sshd"), client_key, log_level, extra_config)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="session")
def sshd(sshd_factory: Any) -> Sshd:
    return sshd_factory()
