"""The /proc process table: the figures psutil gives, and a shared snapshot that never hides a change."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from checks import proctable
from checks.options import build
from checks.process import LocalProcesses, ProcessCheck, ProcessOptions, find_processes, select_local


def start(argv0: str, marker: str) -> subprocess.Popen[bytes]:
    code = "import sys, time\nprint('ready', flush=True)\ntime.sleep(600)"
    p = subprocess.Popen([argv0, "-S", "-c", code, marker], stdout=subprocess.PIPE)
    assert p.stdout is not None and p.stdout.readline() == b"ready\n"
    return p


def stop(p: subprocess.Popen[bytes]) -> None:
    p.kill()
    p.wait()
    if p.stdout is not None:
        p.stdout.close()


@pytest.fixture
def marker() -> str:
    return f"xj{uuid.uuid4().hex[:10]}"


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            stop(p)


def options(**kw: object) -> ProcessOptions:
    return build(ProcessOptions, kw, "test")


def test_figures_are_psutils(tmp_path: Path, marker: str, procs: list[subprocess.Popen[bytes]]) -> None:
    # A name longer than the kernel's 15 characters: psutil completes it from argv[0].
    long_name = tmp_path / "xunjian-long-process-name"
    long_name.symlink_to(os.path.realpath(sys.executable))
    procs.append(start(str(long_name), marker))
    o = options(cmdline=marker)
    ours = select_local(proctable.Snapshot(), o)
    theirs = find_processes(o)
    assert len(ours) == 1 and len(theirs) == 1
    a, b = ours[0], theirs[0]
    assert a.name == b.name == "xunjian-long-process-name"
    assert (a.pid, a.user, a.cmdline) == (b.pid, b.user, b.cmdline)
    assert a.create_time == pytest.approx(b.create_time, abs=0.02)
    assert a.rss == pytest.approx(b.rss, rel=0.2)
    assert a.cpu_seconds == pytest.approx(b.cpu_seconds, abs=0.05)
    by_name = select_local(proctable.Snapshot(), options(process_name="xunjian-long-process-*"))
    assert [p.pid for p in by_name] == [a.pid]


def test_user_is_the_real_uid_name(marker: str, procs: list[subprocess.Popen[bytes]]) -> None:
    procs.append(start(sys.executable, marker))
    me = psutil.Process(procs[0].pid).username()
    assert [p.pid for p in select_local(proctable.Snapshot(), options(cmdline=marker, user=me))] == [procs[0].pid]
    assert select_local(proctable.Snapshot(), options(cmdline=marker, user=me + "x")) == []


def test_shared_snapshot_sees_a_process_started_or_ended_since(marker: str,
                                                              procs: list[subprocess.Popen[bytes]]) -> None:
    table = proctable.LocalTable(max_age=600.0)  # only the /proc listing can make it walk again
    first, second = LocalProcesses(table), LocalProcesses(table)
    o = options(cmdline=marker, count="0:")
    assert first(o) == []
    snap = table.snapshot()
    assert table.snapshot() is snap  # nothing changed: the walk is shared
    procs.append(start(sys.executable, marker))
    found = second(o)
    assert [p.pid for p in found] == [procs[0].pid]
    assert table.snapshot() is not snap
    stop(procs[0])
    assert first(o) == []


def test_a_check_never_judges_the_same_walk_twice(marker: str, procs: list[subprocess.Popen[bytes]]) -> None:
    table = proctable.LocalTable(max_age=600.0)
    procs.append(start(sys.executable, f"{marker} " + "x" * 50))
    check = ProcessCheck(options(cmdline=marker), table=LocalProcesses(table))
    check.run()
    used = table.snapshot()
    check.run()  # the same processes, but a new walk: CPU figures and restarts must move on
    assert table.snapshot() is not used


def test_restart_between_rounds_is_reported(marker: str, procs: list[subprocess.Popen[bytes]]) -> None:
    table = proctable.LocalTable(max_age=600.0)
    check = ProcessCheck(options(cmdline=marker), table=LocalProcesses(table))
    procs.append(start(sys.executable, marker))
    assert check.run().metrics[0].value == 1
    stop(procs[0])
    procs.append(start(sys.executable, marker))
    out = check.run()
    assert "进程已重启" in out.summary and f"pid {procs[0].pid} → {procs[1].pid}" in out.summary


def test_zombies_are_not_counted(marker: str) -> None:
    p = subprocess.Popen([sys.executable, "-S", "-c", "pass", marker])
    try:
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
        snap = proctable.Snapshot()
        assert [q.state for q in snap.procs if q.pid == p.pid] == ["Z"]
        assert select_local(snap, options(cmdline=marker)) == []
    finally:
        p.wait()


def test_parse_stat_with_parentheses_and_spaces_in_the_name() -> None:
    line = "42 (a (b) c) S 1 42 42 0 -1 4194560 10 0 0 0 7 3 0 0 20 0 1 0 1234 1000 56 rest"
    p = proctable.parse_stat(42, line)
    assert p is not None
    assert (p.comm, p.state, p.ppid, p.utime, p.stime, p.start, p.rss_pages) == ("a (b) c", "S", 1, 7, 3, 1234, 56)
    assert proctable.parse_stat(42, "42 (cut") is None


def _steady(name: str) -> str:
    """A workqueue worker's name carries the queue it last ran ("kworker/1:1-events" becomes
    "kworker/1:1-events_freezable" between two reads), so only its part before that is stable."""
    return re.sub(r"^(kworker/[^+-]+)[+-].*$", r"\1", name)


def test_kernel_threads_names_and_command_lines_are_psutils_without_reading_them() -> None:
    """A kernel thread (PF_KTHREAD in the stat flags) has an empty command line: the walk does not
    read it, even for a 15-character name, and every name and command line is still psutil's."""
    snap = proctable.Snapshot()
    kernel = [p for p in snap.procs if p.kernel]
    if not kernel:
        pytest.skip("no kernel threads visible here")
    assert not any(p.kernel for p in snap.procs if p.pid == os.getpid())
    for p in kernel:
        try:
            ps = psutil.Process(p.pid)
            want = (ps.name(), ps.cmdline())
        except psutil.NoSuchProcess:
            continue
        assert (_steady(snap.name(p)), snap.cmdline(p)) == (_steady(want[0]), want[1])
    line = "7 (kworker/0:1-virtio_vsock) I 2 0 0 0 -1 69238880 0 0 0 0 0 9 0 0 20 0 1 0 30 0 0 rest"
    k = proctable.parse_stat(7, line)
    assert k is not None and k.kernel
    assert proctable.Snapshot.cmdline(snap, k) == [] and snap.name(k) == "kworker/0:1-virtio_vsock"
