"""A full disk under state_dir degrades the agent (results wait in memory), never crashes it."""
from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.agentproc import AgentProc, assert_quiet_log, disk_check, write_config
from tests.agent.standin import Standin

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "state"
    mnt.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    except FileNotFoundError:
        pytest.skip("no mount command")
    if r.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(path: Path) -> None:
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            assert e.errno == errno.ENOSPC


def test_full_disk_degrades_then_recovers(tmp_path: Path, tiny_fs: Path) -> None:
    down = Standin().start()
    port = down.port
    down.stop()  # collector down: the spool has to grow
    cfg = write_config(tmp_path / "agent.yaml", down.url, tiny_fs,
                       [disk_check("d1"), disk_check("d2", interval="2s")])
    agent = AgentProc(cfg, tmp_path / "agent.log").start()
    filler = tiny_fs / "filler"
    try:
        assert agent.wait_log("collector unreachable")
        _fill(filler)
        assert agent.wait_log("keeping results in memory and retrying", 30)
        time.sleep(3)
        assert agent.alive()
        back = Standin(port).start()  # results kept in memory are sent while the disk is still full
        try:
            assert back.wait_for(lambda: any(r.get("seq") is None for r in list(back.results.values())), 30)
            os.unlink(filler)
            assert agent.wait_log("writable again", 60)
            n = len(back.results)
            assert back.wait_for(lambda: len(back.results) >= n + 3)
            assert agent.alive()
            assert agent.terminate() == 0
        finally:
            back.stop()
    finally:
        if agent.alive():
            agent.kill9()
    assert_quiet_log(agent.log())
