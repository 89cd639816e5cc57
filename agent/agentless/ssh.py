"""One SSH connection to an inspected server: verified host key, optional jump host, bounded commands.

Host keys are checked against a known_hosts file as `deploy` does: an unknown key is refused unless
trust_on_first_use is set (then it is recorded), a changed key is always refused. paramiko is
imported here only, so the normal agent never loads it (it is in the `deploy` extra).

Scripts are sent on stdin to `sh -s`, not on the command line: the remote process list then
shows `sh -s`, so a process check (or check_procs) looking for a word never counts our own shell.
"""
from __future__ import annotations

import os
import select
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

CONNECT_TIMEOUT = 10.0
# Printed first by every script: whatever the login shell's rc files print before it is not ours.
BEGIN = b"\x1exunjian-begin\x1e\n"
MAX_CHANNELS = 8  # below sshd's default MaxSessions (10) per connection
KEEPALIVE = 30
_KNOWN_HOSTS_LOCK = threading.Lock()


class SshError(Exception):
    """The target cannot be reached or the connection broke; the message is for operators (zh-CN)."""


@dataclass(frozen=True)
class SshEndpoint:
    address: str
    port: int = 22
    user: str = "root"
    key: Optional[str] = None
    known_hosts: Optional[str] = None  # default ~/.ssh/known_hosts of the poller's user
    trust_on_first_use: bool = False
    password_env: Optional[str] = None  # name of an environment variable holding the password
    connect_timeout: float = CONNECT_TIMEOUT
    jump: Optional[SshEndpoint] = None

    @property
    def where(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"

    @property
    def known_hosts_path(self) -> str:
        return os.path.expanduser(self.known_hosts or "~/.ssh/known_hosts")


@dataclass
class Exec:
    code: Optional[int]  # None when there was no exit status (timed out, or ended by a signal)
    stdout: bytes
    stderr: bytes
    timed_out: bool
    truncated: bool
    elapsed: float


def _policies() -> tuple[Any, Any]:
    import paramiko

    class TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
        def __init__(self, path: str) -> None:
            self.path = path

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            client.get_host_keys().add(hostname, key.get_name(), key)
            p = Path(self.path)
            with _KNOWN_HOSTS_LOCK:
                p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                with p.open("a", encoding="ascii") as f:
                    f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")

    class Refuse(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            raise SshError(f"主机 {hostname} 的密钥不在 known_hosts 中 ({key.get_name()} "
                           f"{getattr(key, 'fingerprint', '')}), 拒绝连接; 核实指纹后可设 trust_on_first_use")

    return TrustOnFirstUse, Refuse


def _client(ep: SshEndpoint, sock: Any = None) -> Any:
    import socket

    import paramiko

    tofu_cls, refuse_cls = _policies()
    client = paramiko.SSHClient()
    kh = ep.known_hosts_path
    try:
        if os.path.exists(kh):
            client.load_host_keys(kh)
    except (OSError, paramiko.SSHException) as e:
        raise SshError(f"无法读取 known_hosts {kh}: {e}") from None
    client.set_missing_host_key_policy(tofu_cls(kh) if ep.trust_on_first_use else refuse_cls())
    password = os.environ.get(ep.password_env, "") if ep.password_env else ""
    t = ep.connect_timeout
    try:
        client.connect(ep.address, port=ep.port, username=ep.user, key_filename=ep.key,
                       password=password or None, sock=sock, timeout=t, banner_timeout=t, auth_timeout=t,
                       allow_agent=False, look_for_keys=ep.key is None and not password)
    except paramiko.BadHostKeyException as e:
        client.close()
        raise SshError(f"{ep.where} 的主机密钥已变更 (现为 {e.key.get_name()} {getattr(e.key, 'fingerprint', '')}, "
                       "与 known_hosts 记录不符), 可能存在中间人攻击, 拒绝连接") from None
    except SshError:
        client.close()
        raise
    except paramiko.AuthenticationException:
        client.close()
        raise SshError(f"{ep.where} 认证失败 (检查用户名与密钥)") from None
    except (OSError, socket.timeout, EOFError, paramiko.SSHException) as e:
        client.close()
        raise SshError(f"无法连接 {ep.where}: {e or type(e).__name__}") from None
    transport = client.get_transport()
    if transport is not None:
        transport.set_keepalive(KEEPALIVE)
    return client


class Session:
    """A connection opened once and shared by the checks of a target (thread-safe channel use)."""

    def __init__(self, ep: SshEndpoint) -> None:
        self.endpoint = ep
        self._jump: Any = None
        self._client: Any = None
        self._slots = threading.BoundedSemaphore(MAX_CHANNELS)
        self.home: Optional[str] = None

    def connect(self) -> None:
        ep = self.endpoint
        sock = None
        if ep.jump is not None:
            self._jump = _client(ep.jump)
            try:
                sock = self._jump.get_transport().open_channel(
                    "direct-tcpip", (ep.address, ep.port), ("127.0.0.1", 0), timeout=ep.connect_timeout)
            except Exception as e:
                self._jump.close()
                self._jump = None
                raise SshError(f"跳板机 {ep.jump.address} 无法转发到 {ep.address}:{ep.port}: {e}") from None
        try:
            self._client = _client(ep, sock)
        except SshError:
            if self._jump is not None:
                self._jump.close()
                self._jump = None
            raise

    @property
    def alive(self) -> bool:
        t = self._client.get_transport() if self._client is not None else None
        return t is not None and t.is_active()

    def close(self) -> None:
        for c in (self._client, self._jump):
            if c is not None:
                try:
                    c.close()
                except Exception:
                    pass
        self._client = self._jump = None

    def start(self, script: str, timeout: float) -> Any:
        """Start a script on the target; returns its paramiko channel (stdin already closed).
        The caller releases the channel slot with `finish(channel)`."""
        if not self._slots.acquire(timeout=timeout):
            raise SshError(f"{self.endpoint.where} 的 SSH 通道全部占用 ({MAX_CHANNELS} 个)")
        try:
            transport = self._client.get_transport() if self._client is not None else None
            if transport is None or not transport.is_active():
                raise SshError(f"与 {self.endpoint.where} 的 SSH 连接已断开")
            chan = transport.open_session(timeout=min(timeout, self.endpoint.connect_timeout))
            chan.exec_command("exec sh -s")
            data = b"printf '\\036xunjian-begin\\036\\n'\n" + script.encode("utf-8", "surrogateescape")
            if not data.endswith(b"\n"):
                data += b"\n"
            chan.sendall(data)
            chan.shutdown_write()
            return chan
        except SshError:
            self._slots.release()
            raise
        except Exception as e:  # paramiko.SSHException, EOFError, OSError: the connection broke
            self._slots.release()
            raise SshError(f"与 {self.endpoint.where} 的 SSH 连接中断: {e or type(e).__name__}") from None

    @staticmethod
    def skip_banner(chan: Any, first: bytes = b"") -> bytes:
        """Read a started channel's stdout up to our BEGIN marker; returns the bytes after it."""
        buf = bytearray(first)
        while True:
            i = buf.find(BEGIN)
            if i >= 0:
                return bytes(buf[i + len(BEGIN):])
            if len(buf) > 1024 * 1024:
                raise SshError("目标主机登录脚本输出过多, 未找到命令输出的开始")
            chunk = chan.recv(65536)
            if not chunk:
                return b""  # the script never started (its shell failed)
            buf += chunk

    def finish(self, chan: Any) -> None:
        try:
            chan.close()
        finally:
            self._slots.release()

    def run(self, script: str, *, timeout: float, max_output: int = 16 * 1024 * 1024) -> Exec:
        """Run a POSIX shell script, reading at most `max_output` bytes per stream (the rest is
        discarded); gives up waiting after `timeout` seconds (timed_out, code None)."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        chan = self.start(script, timeout)
        out, err = bytearray(), bytearray()
        truncated = timed_out = False
        try:
            fd = chan.fileno()
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                select.select([fd], [], [], left)
                while chan.recv_ready():
                    truncated |= _bounded(out, chan.recv(65536), max_output)
                while chan.recv_stderr_ready():
                    truncated |= _bounded(err, chan.recv_stderr(65536), max_output)
                if chan.eof_received and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if chan.closed:
                    break
            code: Optional[int] = None
            if not timed_out:
                if chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                    code = chan.exit_status if chan.exit_status >= 0 else None
                else:
                    timed_out = True
            if not timed_out and code is None and not self.alive:
                raise SshError(f"与 {self.endpoint.where} 的 SSH 连接中断")
        finally:
            self.finish(chan)
        i = out.find(BEGIN)
        stdout = bytes(out[i + len(BEGIN):]) if i >= 0 else b""
        return Exec(code, stdout, bytes(err), timed_out, truncated, time.monotonic() - t0)


def _bounded(buf: bytearray, chunk: bytes, limit: int) -> bool:
    room = limit - len(buf)
    if room > 0:
        buf += chunk[:room]
    return len(chunk) > room
