"""process: real child processes started, killed and restarted."""
from __future__ import annotations

import getpass
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from checks.base import StateStore
from checks.model import Status
from checks.options import ConfigError, build
from checks.process import ProcessCheck, ProcessOptions
from checks.spec import parse_spec

MiB = 1024 * 1024


def check(state: StateStore | None = None, **kw: object) -> ProcessCheck:
    return ProcessCheck(build(ProcessOptions, kw, "test"), state=state)


class Children:
    """Real processes with a unique marker in their command line, all killed at the end."""

    def __init__(self) -> None:
        self.marker = f"xj{uuid.uuid4().hex[:10]}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, setup: str = "", loop: str = "time.sleep(600)") -> subprocess.Popen[bytes]:
        """A python child that runs `setup`, says it is ready, then runs `loop`."""
        code = f"import sys, time\n{setup}\nprint('ready', flush=True)\n{loop}"
        p = subprocess.Popen([sys.executable, "-c", code, self.marker], stdout=subprocess.PIPE)
        self.procs.append(p)
        assert p.stdout is not None and p.stdout.readline() == b"ready\n"
        return p

    def stop(self, p: subprocess.Popen[bytes]) -> None:
        p.kill()
        p.wait()
        if p.stdout is not None:
            p.stdout.close()

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                self.stop(p)


@pytest.fixture
def children() -> Iterator[Children]:
    c = Children()
    try:
        yield c
    finally:
        c.close()


def test_none_running_is_critical(children: Children) -> None:
    out = check(cmdline=children.marker, label="凭证库服务").run()
    assert out.status is Status.CRITICAL
    assert out.summary == "未找到进程 凭证库服务"
    assert out.metrics[0].name == "count" and out.metrics[0].value == 0


def test_one_running_is_ok_and_figures_match_psutil(children: Children) -> None:
    p = children.start()
    out = check(cmdline=re.escape(children.marker), process_name="python*").run()
    assert out.status is Status.OK, out.summary
    assert out.summary.startswith(f"进程 python* /{re.escape(children.marker)}/ 1 个运行中, 内存 ")
    rss = next(m for m in out.metrics if m.name == "rss_bytes")
    assert rss.value == pytest.approx(psutil.Process(p.pid).memory_info().rss, rel=0.2)
    assert out.details["processes"][0]["pid"] == p.pid


def test_count_bounds(children: Children) -> None:
    children.start()
    out = check(cmdline=children.marker, count="2:2", label="mq").run()
    assert out.status is Status.CRITICAL
    assert out.summary.startswith("进程 mq 数量 1, 应在 2 到 2 之间")
    out = check(cmdline=children.marker, count="0:", count_warn="2:", label="mq").run()
    assert out.status is Status.WARNING
    assert out.summary.startswith("进程 mq 数量 1, 应在 2 个以上")
    out = check(cmdline=children.marker, count="0", label="mq").run()  # must not run at all
    assert out.status is Status.CRITICAL and "应在 0 个以内" in out.summary


def test_restart_reported_once(children: Children, tmp_path: Path) -> None:
    store = StateStore(tmp_path / "proc.json")
    c = check(store, cmdline=children.marker)
    first = children.start()
    assert c.run().status is Status.OK
    children.stop(first)
    out = c.run()
    assert out.status is Status.CRITICAL  # down between runs
    second = children.start()
    out = c.run()
    assert out.status is Status.WARNING
    assert out.summary.startswith(f"进程已重启 ({second.pid})")
    assert next(m for m in out.metrics if m.name == "restarts").value == 1
    out = c.run()
    assert out.status is Status.OK  # reported once
    assert next(m for m in out.metrics if m.name == "restarts").value == 0
    # Killed and restarted between two runs: the old pid is named.
    children.stop(second)
    third = children.start()
    out = c.run()
    assert out.summary.startswith(f"进程已重启 (pid {second.pid} → {third.pid})")


def test_user_filter(children: Children) -> None:
    children.start()
    me = getpass.getuser()
    assert check(cmdline=children.marker, user=me).run().status is Status.OK
    assert check(cmdline=children.marker, user="nobody").run().status is Status.CRITICAL


def test_rss_sum_and_max(children: Children) -> None:
    children.start(setup="b = b'x' * (80 * 1024 * 1024)")  # touched pages, so resident
    children.start()
    out = check(cmdline=children.marker, rss_warn="60MiB", rss_crit="1GiB").run()
    assert out.status is Status.WARNING
    assert out.summary.startswith("内存 ") and "超过 60.0 MB" in out.summary
    total = next(m for m in out.metrics if m.name == "rss_bytes")
    assert total.value > 80 * MiB and total.warn == str(60 * MiB)
    out_max = check(cmdline=children.marker, aggregate="max").run()
    biggest = next(m for m in out_max.metrics if m.name == "rss_bytes").value
    assert 80 * MiB < biggest < total.value


def test_cpu_between_runs(children: Children, tmp_path: Path) -> None:
    import psutil

    spinner = psutil.Process(children.start(loop="while True: pass").pid)
    c = check(StateStore(tmp_path / "cpu.json"), cmdline=children.marker, cpu_warn="10")
    out = c.run()
    assert "cpu_percent" not in [m.name for m in out.metrics]  # nothing to compare with yet
    t0, w0 = sum(spinner.cpu_times()[:2]), time.monotonic()
    time.sleep(1.0)
    out = c.run()
    used = (sum(spinner.cpu_times()[:2]) - t0) / (time.monotonic() - w0) * 100
    cpu = next(m for m in out.metrics if m.name == "cpu_percent")
    # What the check reports agrees with the CPU the spinner really got (less than 100% on a busy machine).
    assert abs(cpu.value - used) < 15, (cpu.value, used)
    assert out.status is Status.WARNING and out.summary.startswith("CPU ")


def test_options() -> None:
    spec = parse_spec({"name": "mq-proc", "type": "process", "cmdline": "rabbit", "rss_crit": "4GiB"}, "c")
    assert spec.options.count == "1:" and spec.options.rss_crit == 4 * 1024**3
    spec = parse_spec({"name": "pg", "type": "process", "process_name": "postgres"}, "c")
    assert spec.name == "pg" and spec.options.process_name == "postgres"
    with pytest.raises(ConfigError, match="at least one of process_name, cmdline, user"):
        parse_spec({"name": "p", "type": "process"}, "c")
    with pytest.raises(ConfigError, match="regular expression"):
        parse_spec({"name": "p", "type": "process", "cmdline": "("}, "c")
    with pytest.raises(ConfigError, match="aggregate"):
        parse_spec({"name": "p", "type": "process", "user": "x", "aggregate": "avg"}, "c")
