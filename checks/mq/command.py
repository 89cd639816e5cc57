"""Run an MQ admin command (runmqsc, dspmq, tlqstat, rabbitmqctl) under a deadline.

Uses checks.procrun.run_bounded (process-group kill on timeout, bounded output). runmqsc reads
its MQSC commands from stdin, which run_bounded does not feed, so they go through a temporary
file and a shell redirection.
"""
from __future__ import annotations

import os
import shlex
import tempfile
from typing import Optional

from checks.procrun import run_bounded
from checks.text import decode_output

MAX_OUTPUT = 8 * 1024 * 1024  # DISPLAY QSTATUS(*) of 5,000 queues is ~2.4 MB


class CommandFailed(Exception):
    """The command gave no output to parse (message in Chinese)."""


def run(argv: list[str], *, stdin: Optional[str], timeout: float,
        env: Optional[dict[str, str]] = None) -> tuple[str, bool]:
    """stdout of `argv`, and whether it was cut at MAX_OUTPUT.

    A non-zero exit is not an error when there is output: runmqsc exits 10 when one DISPLAY found
    nothing, 20 when the queue manager is down, and says why on stdout."""
    full_env = {**os.environ, **env} if env else None
    tmp = None
    try:
        if stdin is not None:
            fd, tmp = tempfile.mkstemp(prefix="xunjian-mqsc-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(stdin)
            args: list[str] | str = f"exec {shlex.join(argv)} < {shlex.quote(tmp)}"
            done = run_bounded(args, timeout=timeout, max_output=MAX_OUTPUT, shell=True, env=full_env)
            if done.returncode == 127:
                raise FileNotFoundError(argv[0])
        else:
            done = run_bounded(argv, timeout=timeout, max_output=MAX_OUTPUT, env=full_env)
    except FileNotFoundError:
        raise CommandFailed(f"命令不存在: {argv[0]}") from None
    except PermissionError:
        raise CommandFailed(f"命令无执行权限: {argv[0]}") from None
    finally:
        if tmp is not None:
            os.unlink(tmp)
    if done.timed_out:
        raise CommandFailed(f"命令超时 ({timeout:g} 秒): {' '.join(argv)}")
    out = decode_output(done.stdout)
    if done.returncode != 0 and not out.strip():
        tail = decode_output(done.stderr).strip().splitlines()[-1:] or [f"退出码 {done.returncode}"]
        raise CommandFailed(f"命令失败: {' '.join(argv)}: {tail[0][:200]}")
    return out, done.truncated
