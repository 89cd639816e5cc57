"""One SSH connection to an inspected server: verified host key, optional jump host, bounded commands.

Host keys are checked against a known_hosts file as `deploy` does: an unknown key is refused unless
trust_on_first_use is set (then it is recorded), a changed key is always refused. paramiko is
imported here only, so the normal agent never loads it (it is in the `deploy` extra).

Commands go to long-lived `sh -s` shells (started once, reused while the connection lives), each
script in a subshell framed by end markers: the user's login shell and its rc files run once per
shell, not per command, and a process listing shows `sh -s`, so a process check (or check_procs)
looking for a word never counts our own shell. A shell whose command timed out is closed.
"""
from __future__ import annotations

import errno
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
DRAIN_MAX = 2 * 1024 * 1024  # unread output drained to keep a shell; more and it is closed instead
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
        self._idle: list[Any] = []  # long-lived shells between commands (each holds a slot)
        self._idle_lock = threading.Lock()

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

    def _slot(self, timeout: float) -> None:
        while not self._slots.acquire(blocking=False):
            with self._idle_lock:
                idle = self._idle.pop() if self._idle else None
            if idle is None:
                if self._slots.acquire(timeout=timeout):
                    return
                raise SshError(f"{self.endpoint.where} 的 SSH 通道全部占用 ({MAX_CHANNELS} 个)")
            self.finish(idle)  # an idle shell gives its channel up

    def start(self, timeout: float) -> Any:
        """Start a shell on the target that reads commands on stdin (once per shell: the user's
        login shell runs here). Returns its paramiko channel; `finish(channel)` releases it."""
        self._slot(timeout)
        try:
            transport = self._client.get_transport() if self._client is not None else None
            if transport is None or not transport.is_active():
                raise SshError(f"与 {self.endpoint.where} 的 SSH 连接已断开")
            chan = transport.open_session(timeout=min(timeout, self.endpoint.connect_timeout))
            chan.exec_command("exec sh -s")
            chan.sendall(b"printf '\\036xunjian-begin\\036\\n'\n")
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

    def _shell(self, timeout: float) -> Any:
        """An idle long-lived shell, or a new one: the login shell starts once, not per command."""
        with self._idle_lock:
            while self._idle:
                chan = self._idle.pop()
                if not (chan.closed or chan.eof_received or chan.exit_status_ready()):
                    return chan
                self.finish(chan)
        chan = self.start(timeout)
        try:
            chan.settimeout(timeout)
            if self.skip_banner(chan) or chan.eof_received:
                raise SshError(f"{self.endpoint.where} 的 shell 无法启动")
        except BaseException as e:
            self.finish(chan)
            if isinstance(e, OSError):
                raise SshError(f"{self.endpoint.where} 的 shell 无响应: {e or type(e).__name__}") from None
            raise
        return chan

    def stream(self, script: str, timeout: float) -> ShellStream:
        """Start a script in a long-lived shell; read its stdout from the returned stream."""
        chan = self._shell(timeout)
        nonce = os.urandom(8).hex()
        command = _framed(script, nonce)
        try:
            chan.sendall(command.encode("utf-8", "surrogateescape"))
        except Exception as e:
            self.finish(chan)
            raise SshError(f"与 {self.endpoint.where} 的 SSH 连接中断: {e or type(e).__name__}") from None
        return ShellStream(self, chan, nonce, timeout)

    def run(self, script: str, *, timeout: float, max_output: int = 16 * 1024 * 1024) -> Exec:
        """Run a POSIX shell script in a subshell of a long-lived `sh` on the target, reading at
        most `max_output` bytes per stream (the rest is discarded); gives up waiting after
        `timeout` seconds (timed_out, code None; that shell is closed)."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        chan = self._shell(timeout)
        nonce = os.urandom(8).hex()
        command = _framed(script, nonce)
        out, err = _Framed(f"\x1e{nonce} ".encode(), max_output), _Framed(f"\x1e{nonce}\x1e\n".encode(), max_output)
        timed_out = False
        try:
            chan.sendall(command.encode("utf-8", "surrogateescape"))
            fd = chan.fileno()
            while not (out.done and err.done):
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                select.select([fd], [], [], left)
                while chan.recv_ready():
                    out.feed(chan.recv(65536))
                while chan.recv_stderr_ready():
                    err.feed(chan.recv_stderr(65536))
                if chan.eof_received and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
        except Exception as e:
            self.finish(chan)
            raise SshError(f"与 {self.endpoint.where} 的 SSH 连接中断: {e or type(e).__name__}") from None
        code = out.code()
        if timed_out or code is None or not err.done:
            self.finish(chan)  # its state is unknown: never reused
            if not timed_out and not self.alive:
                raise SshError(f"与 {self.endpoint.where} 的 SSH 连接中断")
            if not timed_out:
                raise SshError(f"{self.endpoint.where} 的 shell 意外退出")
        else:
            with self._idle_lock:
                self._idle.append(chan)
        return Exec(code, out.data(), err.data(), timed_out, out.truncated or err.truncated,
                    time.monotonic() - t0)


def _framed(script: str, nonce: str) -> str:
    """The script in ( ) so its `exit`, `cd` and fds stay its own (stdin is not its to read),
    followed by end markers on stdout (with the exit code) and on stderr."""
    return (f"(\n{script}\n) </dev/null; printf '\\036{nonce} %d\\036\\n' $?; "
            f"printf '\\036{nonce}\\036\\n' >&2\n")


class ShellStream:
    """The stdout of one script in a long-lived shell, read incrementally up to its end marker
    (file contents: binary, possibly large). `close()` gives the shell back when the script ended."""

    def __init__(self, session: Session, chan: Any, nonce: str, timeout: float) -> None:
        self.session = session
        self.chan = chan
        self.marker = f"\x1e{nonce} ".encode()
        self.err = _Framed(f"\x1e{nonce}\x1e\n".encode(), 64 * 1024)
        self.pending = bytearray()
        self.code: Optional[int] = None
        self.ended = False
        chan.settimeout(timeout)

    def recv(self, n: int) -> bytes:
        """Up to n bytes of the script's stdout; b"" once it has ended (then `code` is set)."""
        while True:
            if self.ended:
                return b""
            i = self.pending.find(self.marker)
            if i > 0:
                data = bytes(self.pending[:min(i, n)])
                del self.pending[:len(data)]
                return data
            if i == 0:
                tail = bytes(self.pending[len(self.marker):])
                if b"\x1e\n" in tail:
                    try:
                        self.code = int(tail.split(b"\x1e", 1)[0])
                    except ValueError:
                        self.code = None
                    self.ended = True
                    rest = tail.split(b"\x1e\n", 1)[1]
                    self.pending = bytearray(rest)  # nothing follows the marker in a sane shell
                    return b""
            else:
                safe = len(self.pending) - len(self.marker) + 1
                if safe > 0:
                    data = bytes(self.pending[:min(safe, n)])
                    del self.pending[:len(data)]
                    return data
            while self.chan.recv_stderr_ready():
                self.err.feed(self.chan.recv_stderr(65536))
            chunk = self.chan.recv(max(n, 65536))  # socket.timeout (OSError) after the timeout
            if not chunk:
                raise OSError(errno.EPIPE, "远程 shell 意外退出")
            self.pending += chunk

    def stderr(self) -> bytes:
        while self.chan.recv_stderr_ready():
            self.err.feed(self.chan.recv_stderr(65536))
        return self.err.data()

    def close(self) -> None:
        """Reuse the shell when the script ended and its stderr is complete, else close it."""
        if self.chan is None:
            return
        if not self.ended:  # the reader stopped early (an unfinished last line): drain a little
            try:
                self.chan.settimeout(2.0)
                drained = 0
                while not self.ended and drained < DRAIN_MAX:
                    drained += len(self.recv(65536))
            except Exception:
                pass
        chan, self.chan = self.chan, None
        try:
            deadline = time.monotonic() + 5.0
            while self.ended and not self.err.done and time.monotonic() < deadline:
                if chan.recv_stderr_ready():
                    self.err.feed(chan.recv_stderr(65536))
                elif chan.eof_received:
                    break
                else:
                    select.select([chan.fileno()], [], [], 0.05)
        except Exception:
            self.ended = False
        if self.ended and self.err.done and not self.pending:
            with self.session._idle_lock:
                self.session._idle.append(chan)
        else:
            self.session.finish(chan)


class _Framed:
    """One output stream of a command in a long-lived shell: data until our end marker, bounded."""

    def __init__(self, marker: bytes, limit: int) -> None:
        self.marker = marker
        self.limit = limit
        self.buf = bytearray()
        self.scan = 0  # where the marker search resumes
        self.end = -1  # marker position
        self.dropped = 0
        self.truncated = False

    @property
    def done(self) -> bool:
        return self.end >= 0 and self.buf.find(b"\n", self.end + 1) >= 0

    def feed(self, chunk: bytes) -> None:
        self.buf += chunk
        if self.end < 0:
            i = self.buf.find(self.marker, max(0, self.scan - len(self.marker)))
            if i >= 0:
                self.end = i
            else:
                self.scan = len(self.buf)
                keep = self.limit + 4 * len(self.marker)
                if len(self.buf) > keep:  # drop the middle; keep the head and a tail to find the marker
                    cut = len(self.buf) - keep
                    del self.buf[self.limit:self.limit + cut]
                    self.scan -= cut
                    self.truncated = True

    def data(self) -> bytes:
        end = self.end if self.end >= 0 else len(self.buf)
        if end > self.limit:
            self.truncated = True
        return bytes(self.buf[:min(end, self.limit)])

    def code(self) -> Optional[int]:
        if not self.done:
            return None
        tail = bytes(self.buf[self.end + len(self.marker):]).split(b"\x1e", 1)[0]
        try:
            return int(tail)
        except ValueError:
            return None


def _bounded(buf: bytearray, chunk: bytes, limit: int) -> bool:
    room = limit - len(buf)
    if room > 0:
        buf += chunk[:room]
    return len(chunk) > room
