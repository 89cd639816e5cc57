"""command: real Nagios plugins (monitoring-plugins-basic) and real child processes."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from checks.command import CommandCheck, CommandOptions
from checks.model import Status
from checks.options import ConfigError, build
from checks.spec import parse_spec

PLUGINS = Path("/usr/lib/nagios/plugins")
needs_plugins = pytest.mark.skipif(not (PLUGINS / "check_disk").exists(),
                                   reason="apt-get install monitoring-plugins-basic")


def run(**kw: object):  # type: ignore[no-untyped-def]
    return CommandCheck(build(CommandOptions, kw, "test")).run()


def procs_with(marker: str) -> list[psutil.Process]:
    """Live processes with `marker` in their command line. SIGKILL is delivered asynchronously
    and a killed orphan lingers as a zombie until init reaps it, so allow a few seconds."""
    deadline = time.monotonic() + 5
    while True:
        found = [p for p in psutil.process_iter(["cmdline", "status"])
                 if p.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(p.info["cmdline"] or [])]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


@needs_plugins
def test_real_check_disk() -> None:
    argv = [str(PLUGINS / "check_disk"), "-w", "10%", "-c", "5%", "-p", "/"]
    direct = subprocess.run(argv, capture_output=True, text=True)
    out = run(command=argv)
    assert out.status == Status(direct.returncode)
    assert out.summary.startswith("DISK ")
    m = next(x for x in out.metrics if x.name == "/")
    st = os.statvfs("/")
    assert m.unit == "B" and m.max == pytest.approx(st.f_blocks * st.f_frsize, rel=1e-3)
    assert m.warn is not None and m.crit is not None and m.min == 0
    assert out.metrics[-1].name == "exec_seconds"


@needs_plugins
def test_real_check_procs_counts_a_real_child() -> None:
    marker = f"{uuid.uuid4().int % 10**6}.{os.getpid()}"  # a unique sleep length
    argv = [str(PLUGINS / "check_procs"), "-w", "1:1", "-c", "1:", "-a", marker]
    out = run(command=argv)
    assert out.status is Status.CRITICAL
    child = subprocess.Popen(["sleep", marker])
    try:
        out = run(command=argv)
        assert out.status is Status.OK, out.summary
        assert out.summary.startswith("PROCS OK: 1 process")
        procs = next(x for x in out.metrics if x.name == "procs")
        assert procs.value == 1 and procs.warn == "1:1" and procs.crit == "1:"
    finally:
        child.kill()
        child.wait()


@pytest.fixture
def listener() -> Iterator[int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        yield srv.getsockname()[1]
    finally:
        srv.close()


@needs_plugins
def test_real_check_tcp_against_local_socket(listener: int) -> None:
    argv = [str(PLUGINS / "check_tcp"), "-H", "127.0.0.1", "-p", str(listener), "-w", "1", "-c", "2"]
    out = run(command=argv)
    assert out.status is Status.OK, out.summary
    assert out.summary.startswith("TCP OK")
    t = next(x for x in out.metrics if x.name == "time")
    assert t.unit == "s" and t.warn == "1.000000" and t.crit == "2.000000"


@needs_plugins
def test_real_check_tcp_refused() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    out = run(command=[str(PLUGINS / "check_tcp"), "-H", "127.0.0.1", "-p", str(port)])
    assert out.status is Status.CRITICAL
    assert "refused" in out.summary.lower()


def test_timeout_kills_whole_process_group() -> None:
    marker = f"{uuid.uuid4().int % 10**6}.5"
    out = run(command=f"sleep {marker} & sleep {marker}; echo never", shell=True, command_timeout="300ms")
    assert out.status is Status.UNKNOWN
    assert out.summary == "命令超时 (0.3 秒), 已终止其进程组"
    assert out.details["exit_code"] is None
    assert procs_with(f"sleep {marker}") == []  # the background sleep went down with the shell


def test_grandchild_holding_the_pipe_does_not_hold_the_check() -> None:
    marker = f"{uuid.uuid4().int % 10**6}.25"
    out = run(command=f"(sleep {marker} &); echo 'OK - started | n=1'", shell=True,
              command_timeout="60s")
    assert out.status is Status.OK
    assert out.summary == "OK - started"
    assert [m.name for m in out.metrics] == ["n", "exec_seconds"]
    assert procs_with(f"sleep {marker}") == []


def test_output_is_bounded_and_rest_discarded() -> None:
    code = "import sys; sys.stdout.write('OK - big | a=1\\n' + 'x' * 5_000_000); sys.exit(1)"
    out = run(command=[sys.executable, "-c", code], max_output="1KiB")
    assert out.status is Status.WARNING
    assert out.summary == "OK - big"
    assert out.details["output_truncated"] is True
    assert len(out.details["long_output"]) <= 1024


@pytest.mark.parametrize(("script", "status", "summary"), [
    ("echo 'OK - fine'; exit 0", Status.OK, "OK - fine"),
    ("echo 'WARN - hmm'; exit 1", Status.WARNING, "WARN - hmm"),
    ("echo 'CRIT - bad'; exit 2", Status.CRITICAL, "CRIT - bad"),
    ("echo 'UNKNOWN - ?'; exit 3", Status.UNKNOWN, "UNKNOWN - ?"),
    ("echo 'odd'; exit 7", Status.UNKNOWN, "命令退出码 7 (不是 0..3): odd"),
    ("kill -SEGV $$", Status.UNKNOWN, "命令被信号 SIGSEGV 终止"),
    ("echo 'oops on stderr' >&2; exit 2", Status.CRITICAL, "oops on stderr"),
    ("exit 0", Status.OK, "/bin/sh 无输出 (退出码 0)"),
])
def test_exit_codes(script: str, status: Status, summary: str) -> None:
    out = run(command=["/bin/sh", "-c", script])
    assert (out.status, out.summary) == (status, summary)


def test_env_and_cwd(tmp_path: Path) -> None:
    out = run(command='echo "OK $XJ_VAR $(pwd) ${HOME:-nohome}"', shell=True, env={"XJ_VAR": "值"},
              cwd=str(tmp_path))
    assert out.summary == f"OK 值 {tmp_path} {os.environ.get('HOME', 'nohome')}"
    out = run(command='echo "OK ${HOME:-nohome}"', shell=True, inherit_env=False, env={"PATH": "/bin"})
    assert out.summary == "OK nohome"


def test_gb18030_output_is_decoded() -> None:
    code = "import sys; sys.stdout.buffer.write('磁盘正常 | a=1'.encode('gb18030'))"
    out = run(command=[sys.executable, "-c", code])
    assert out.summary == "磁盘正常"


def test_cannot_execute(tmp_path: Path) -> None:
    out = run(command=["/no/such/plugin", "-w", "1"])
    assert (out.status, out.summary) == (Status.UNKNOWN, "命令无法执行: /no/such/plugin 不存在")
    script = tmp_path / "plugin.sh"
    script.write_text("#!/bin/sh\necho OK\n")
    out = run(command=[str(script)])
    assert (out.status, out.summary) == (Status.UNKNOWN, f"命令无法执行: {script} 没有执行权限")
    out = run(command=["true"], cwd=str(tmp_path / "gone"))
    assert out.summary == f"命令无法执行: {tmp_path / 'gone'} 不存在"


def test_config_string_command_and_errors() -> None:
    spec = parse_spec({"name": "nagios-disk", "type": "command",
                       "command": "/usr/lib/nagios/plugins/check_disk -w '10%' -c 5%"}, "checks[0]")
    assert spec.options.argv() == ["/usr/lib/nagios/plugins/check_disk", "-w", "10%", "-c", "5%"]
    spec = parse_spec({"name": "c", "type": "command", "shell": True,
                       "command": ["echo", "a b"]}, "checks[0]")
    assert spec.options.argv() == "echo 'a b'"
    with pytest.raises(ConfigError, match="command"):
        parse_spec({"name": "c", "type": "command"}, "checks[0]")
    with pytest.raises(ConfigError, match="command_timeout"):
        parse_spec({"name": "c", "type": "command", "command": ["x"], "command_timeout": "soon"}, "c")
