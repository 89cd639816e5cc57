"""Any Nagios plugin: exit code 0..3 is the status, the first output line the summary, perfdata
after `|` the metrics. Output is decoded and cleaned (checks/text.py): a NUL a plugin prints
becomes U+FFFD.

Runs without a shell by default (`command` as a list); `shell: true` passes a string to /bin/sh.
The plugin is killed with its whole process group at `command_timeout`, which should stay below
the check's `timeout` so the agent never gives up on a still-running plugin.
"""
from __future__ import annotations

import os
import shlex
import signal
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from checks.base import Check, Outcome
from checks.model import MAX_METRICS, Metric, Status
from checks.options import Duration, Size
from checks.perfdata import PerfValue, parse_output
from checks.procrun import Completed, run_bounded
from checks.text import decode_text

MAX_LONG_TEXT = 4096


@dataclass
class CommandOptions:
    command: Union[str, list[str]]  # a list runs without a shell
    shell: bool = False
    command_timeout: Duration = 20.0
    max_output: Size = 64 * 1024  # per stream; the rest is discarded
    env: dict[str, str] = field(default_factory=dict)  # added to (or replacing) the agent's environment
    inherit_env: bool = True
    cwd: Optional[str] = None

    def validate(self) -> None:
        if not self.command:
            raise ValueError("command must not be empty")
        if self.command_timeout <= 0:
            raise ValueError("command_timeout must be positive")
        if self.max_output < 1:
            raise ValueError("max_output must be at least 1 byte")

    def argv(self) -> Union[list[str], str]:
        if self.shell:
            return self.command if isinstance(self.command, str) else shlex.join(self.command)
        return shlex.split(self.command) if isinstance(self.command, str) else list(self.command)


def run_local(o: CommandOptions) -> Completed:
    """Run the plugin on this machine; raises OSError when it cannot be started."""
    env = {**(os.environ if o.inherit_env else {}), **o.env}
    return run_bounded(o.argv(), timeout=o.command_timeout, max_output=o.max_output,
                       shell=o.shell, env=env, cwd=o.cwd)


class CommandCheck(Check):
    type = "command"
    Options = CommandOptions

    def __init__(self, options: CommandOptions, *, state: Any = None,
                 execute: Callable[[CommandOptions], Completed] = run_local) -> None:
        super().__init__(options, state=state)
        self._execute = execute  # here by default; the agentless poller runs it over SSH

    def run(self) -> Outcome:
        o: CommandOptions = self.options
        argv = o.argv()
        name = argv if isinstance(argv, str) else argv[0]
        try:
            done = self._execute(o)
        except FileNotFoundError as e:
            missing = o.cwd if o.cwd and e.filename == o.cwd else name
            return Outcome(Status.UNKNOWN, f"命令无法执行: {missing} 不存在")
        except PermissionError:
            return Outcome(Status.UNKNOWN, f"命令无法执行: {name} 没有执行权限")
        except OSError as e:
            return Outcome(Status.UNKNOWN, f"命令无法执行: {name}: {e.strerror or e}")
        return self._judge(done, name)

    def _judge(self, done: Completed, name: str) -> Outcome:
        o: CommandOptions = self.options
        stdout, stderr = decode_text(done.stdout), decode_text(done.stderr)  # NUL never leaves the agent
        # Nagios reads stdout; stderr stands in only when the plugin printed nothing else.
        out = parse_output(stdout if stdout.strip() else stderr)
        details: dict[str, object] = {"exit_code": done.returncode, "elapsed": round(done.elapsed, 3)}
        if out.long_text:
            details["long_output"] = "\n".join(out.long_text)[:MAX_LONG_TEXT]
        if stdout.strip() and stderr.strip():
            details["stderr"] = stderr[:MAX_LONG_TEXT]
        if out.errors:
            details["perfdata_errors"] = out.errors[:20]
        if done.truncated:
            details["output_truncated"] = True
        metrics = _metrics(out.perfdata)
        if len(metrics) < MAX_METRICS:
            metrics.append(Metric("exec_seconds", round(done.elapsed, 6), "s", min=0.0))
        summary = out.summary
        if done.timed_out:
            head = f"命令超时 ({o.command_timeout:g} 秒), 已终止其进程组"
            return Outcome(Status.UNKNOWN, f"{head}: {summary}" if summary else head, metrics, details)
        code = done.returncode
        assert code is not None
        if code < 0:
            head = f"命令被信号 {_signame(-code)} 终止"
            return Outcome(Status.UNKNOWN, f"{head}: {summary}" if summary else head, metrics, details)
        if code > 3:
            head = f"命令退出码 {code} (不是 0..3)"
            return Outcome(Status.UNKNOWN, f"{head}: {summary}" if summary else head, metrics, details)
        status = Status(code)
        return Outcome(status, summary or f"{name} 无输出 (退出码 {code})", metrics, details)


def _metrics(perfdata: list[PerfValue]) -> list[Metric]:
    metrics: list[Metric] = []
    seen: set[str] = set()
    for pv in perfdata:
        m = pv.to_metric()
        if m is None or m.name in seen:
            continue
        seen.add(m.name)
        metrics.append(m)
        if len(metrics) >= MAX_METRICS:
            break
    return metrics


def _signame(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return str(num)
