"""Run a child process with a deadline and bounded output; on timeout kill its whole process group.

The child leads a new session, so a plugin's own children (a shell pipeline, a helper it forked)
are killed with it. Output past `max_output` bytes per stream is read and thrown away, so a chatty
child never blocks on a full pipe and never fills the agent's memory.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Optional

from checks import childmask

# After the child exits, how long a grandchild holding our pipes may keep them open.
EXIT_GRACE = 0.5


@dataclass
class Completed:
    returncode: Optional[int]  # None when killed on timeout
    stdout: bytes
    stderr: bytes
    timed_out: bool
    truncated: bool  # some output was discarded
    elapsed: float


def run_bounded(args: list[str] | str, *, timeout: float, max_output: int, shell: bool = False,
                env: Optional[dict[str, str]] = None, cwd: Optional[str] = None) -> Completed:
    t0 = time.monotonic()
    proc = subprocess.Popen(args, shell=shell, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            umask=childmask.CHILD_UMASK)
    bufs = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    truncated = False
    timed_out = False
    deadline = t0 + timeout
    exited_at: Optional[float] = None
    pidfd = _pidfd(proc.pid)
    sel = selectors.DefaultSelector()
    try:
        for stream in bufs:
            sel.register(stream, selectors.EVENT_READ)
        if pidfd is not None:
            sel.register(pidfd, selectors.EVENT_READ)
        while len(sel.get_map()) > (1 if pidfd is not None else 0):
            now = time.monotonic()
            if exited_at is None and _exited(proc.pid):
                exited_at = now
            limit = deadline if exited_at is None else min(deadline, exited_at + EXIT_GRACE)
            if now >= limit:
                timed_out = exited_at is None
                break
            # Without a pidfd the child's exit is noticed by polling.
            wait = limit - now if pidfd is not None else min(limit - now, 0.1)
            for key, _ in sel.select(wait):
                if key.fileobj is pidfd:
                    sel.unregister(pidfd)
                    os.close(pidfd)
                    pidfd = None
                    continue
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                buf = bufs[key.fileobj]  # type: ignore[index]
                room = max_output - len(buf)
                if len(chunk) > room:
                    truncated = True
                buf += chunk[:max(room, 0)]
    finally:
        sel.close()
        if pidfd is not None:
            os.close(pidfd)
        _kill_group(proc.pid)  # the plugin and anything it left behind
        proc.wait()
        for stream in bufs:
            stream.close()  # type: ignore[union-attr]
    return Completed(returncode=None if timed_out else proc.returncode,
                     stdout=bytes(bufs[proc.stdout]), stderr=bytes(bufs[proc.stderr]),
                     timed_out=timed_out, truncated=truncated, elapsed=time.monotonic() - t0)


def _exited(pid: int) -> bool:
    """Has the child exited? Without reaping it: its pid, and so its group id, stay ours until
    we have killed the group."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _pidfd(pid: int) -> Optional[int]:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return opener(pid)
    except OSError:  # kernel before 5.3
        return None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
