"""SSH sessions with verified host keys, ProxyJump through a `direct-tcpip` channel, and file upload.

Host keys are checked against a known_hosts file: unknown keys are refused unless trust-on-first-use is
asked for (then the key is appended to that file); a key that differs from the recorded one is always
refused (paramiko raises BadHostKeyException whatever the missing-key policy).
"""
from __future__ import annotations

import os
import shlex
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from deploy.errors import DeployError
from deploy.inventory import Endpoint

_KNOWN_HOSTS_LOCK = threading.Lock()
CONNECT_TIMEOUT = 15.0


def _fingerprint(key: paramiko.PKey) -> str:
    return str(getattr(key, "fingerprint", ""))  # "SHA256:...", as ssh-keygen -lf prints it


class _TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
    """Accept an unknown key and record it; changed keys never reach this policy."""

    def __init__(self, known_hosts: str) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        path = Path(self.known_hosts)
        with _KNOWN_HOSTS_LOCK:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with path.open("a", encoding="ascii") as f:
                f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


class _Refuse(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise DeployError(
            f"主机 {hostname} 的密钥不在 known_hosts 中（{key.get_name()} {_fingerprint(key)}），拒绝连接；"
            "核实指纹后可用 --trust-on-first-use 首次信任"
        )


@dataclass
class CommandResult:
    code: int
    stdout: str
    stderr: str


def _open_client(ep: Endpoint, tofu: bool, sock: Any = None) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    if ep.known_hosts and os.path.exists(ep.known_hosts):
        client.load_host_keys(ep.known_hosts)
    client.set_missing_host_key_policy(_TrustOnFirstUse(ep.known_hosts) if tofu else _Refuse())
    password = os.environ.get(ep.password_env, "") if ep.password_env else None
    where = f"{ep.user}@{ep.address}:{ep.port}"
    try:
        client.connect(
            ep.address, port=ep.port, username=ep.user, key_filename=ep.key, password=password or None,
            sock=sock, timeout=CONNECT_TIMEOUT, banner_timeout=CONNECT_TIMEOUT, auth_timeout=CONNECT_TIMEOUT,
            allow_agent=False, look_for_keys=ep.key is None and not password,
        )
    except paramiko.BadHostKeyException as e:
        client.close()
        raise DeployError(
            f"{where} 的主机密钥已变更（现为 {e.key.get_name()} {_fingerprint(e.key)}，与 known_hosts 记录不符），"
            "可能存在中间人攻击，拒绝连接；若确为重装，请先核实新指纹并从 known_hosts 删除旧记录"
        ) from None
    except DeployError:
        client.close()
        raise
    except paramiko.AuthenticationException:
        client.close()
        raise DeployError(f"{where} 认证失败（检查用户名与密钥）") from None
    except (OSError, socket.timeout, paramiko.SSHException) as e:
        client.close()
        raise DeployError(f"无法连接 {where}: {e}") from None
    return client


class Connection:
    """One SSH session to a host (through its jump host when it has one)."""

    def __init__(self, ep: Endpoint, tofu: bool = False, sudo: bool = False) -> None:
        self.endpoint = ep
        self.sudo = sudo and ep.user != "root"
        self._jump: paramiko.SSHClient | None = None
        sock = None
        if ep.jump is not None:
            self._jump = _open_client(ep.jump, tofu)
            transport = self._jump.get_transport()
            assert transport is not None
            try:
                sock = transport.open_channel("direct-tcpip", (ep.address, ep.port), ("127.0.0.1", 0),
                                              timeout=CONNECT_TIMEOUT)
            except (paramiko.SSHException, OSError) as e:
                self._jump.close()
                raise DeployError(f"跳板机 {ep.jump.name} 无法转发到 {ep.address}:{ep.port}: {e}") from None
        try:
            self.client = _open_client(ep, tofu, sock)
        except DeployError:
            if self._jump is not None:
                self._jump.close()
            raise
        self._sftp: paramiko.SFTPClient | None = None

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        self.client.close()
        if self._jump is not None:
            self._jump.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, script: str, check: bool = True, timeout: float = 600.0) -> CommandResult:
        """Run a POSIX shell script (under `sudo -n` for a non-root user that needs it)."""
        command = f"sh -c {shlex.quote(script)}"
        if self.sudo:
            command = f"sudo -n {command}"
        _, out, err = self.client.exec_command(command, timeout=timeout)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        code = out.channel.recv_exit_status()
        if check and code != 0:
            detail = (stderr.strip() or stdout.strip()).splitlines()[-3:]
            raise DeployError(f"远程命令失败（退出码 {code}）: {' / '.join(detail)}")
        return CommandResult(code, stdout, stderr)

    @property
    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = self.client.open_sftp()
        return self._sftp

    def upload(self, local: str | os.PathLike[str], remote: str) -> None:
        self.sftp.put(str(local), remote)

    def upload_bytes(self, data: bytes, remote: str, mode: int) -> None:
        """Write `data` to a remote path, chmod-ed to `mode` before the first byte is written."""
        with self.sftp.open(remote, "wb") as f:
            f.chmod(mode)
            f.write(data)
