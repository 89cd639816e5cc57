"""Prompt exits with a check stuck: `check` by its checks' timeouts + 1 s even when a thread is
stuck in the kernel for good (a FUSE mount that never answers), `run` within 5 s of SIGTERM
with a check stuck in a read and a collector that never answers, nothing spooled lost."""
from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.agent.agentproc import ROOT, AgentProc, disk_check, write_config
from tests.agent.standin import Standin

pytestmark = pytest.mark.slow


@pytest.fixture
def hung_mount(tmp_path: Path) -> Iterator[Path]:
    """A mount point whose statvfs never returns, not even to SIGKILL, until the fixture ends."""
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        pytest.skip("needs root and /dev/fuse")
    mnt = tmp_path / "hung"
    mnt.mkdir()
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "agent" / "fusehang.py"), str(mnt)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = server.stdout.readline()  # type: ignore[union-attr]
        if ready.strip() != b"ready":
            pytest.skip(f"cannot mount FUSE here: {server.stderr.read().decode()[-300:]}")  # type: ignore[union-attr]
        yield mnt
    finally:
        server.kill()  # aborts the connection: every stuck call returns
        server.wait()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_check_exits_by_its_timeouts_while_a_thread_is_stuck_in_the_kernel(tmp_path: Path,
                                                                         hung_mount: Path) -> None:
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(yaml.safe_dump({
        "collector": {"url": "http://127.0.0.1:9", "token": "t"}, "host": {"name": "web01"},
        "state_dir": str(tmp_path / "state"),
        "checks": [{"name": "nfs-disk", "type": "disk", "timeout": "2s", "mounts": [str(hung_mount)]},
                   {"name": "root-disk", "type": "disk", "timeout": "2s", "mounts": ["/"]}],
    }), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "check", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    while proc.poll() is None and time.monotonic() - t0 < 15:
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    reader.join(2)
    # (on failure the stuck process is freed when the fixture ends the FUSE server)
    assert elapsed < 2 + 2 + 1, f"exited after {elapsed:.1f}s"
    assert proc.returncode == 3  # UNKNOWN: the stuck check timed out
    table = out[0].decode("utf-8")
    assert re.search(r"nfs-disk .*检查超时", table) and re.search(r"root-disk .*正常", table), table


class Silent:
    """A collector that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone would not
        self.sock.close()


def test_run_exits_within_5s_of_sigterm_with_stuck_check_and_silent_collector(tmp_path: Path) -> None:
    fifo = tmp_path / "cert.pem"
    os.mkfifo(fifo)  # opening it blocks: nobody ever writes
    silent = Silent()
    state = tmp_path / "state"
    stuck = {"name": "stuck-cert", "type": "cert", "interval": "60s", "timeout": "30s", "files": [str(fifo)]}
    cfg = write_config(tmp_path / "agent.yaml", f"http://127.0.0.1:{silent.port}", state,
                       [disk_check("d1", interval="1s"), stuck],
                       send={"timeout": "10s", "max_backoff": "30s"}, log={"level": "debug"})
    agent = AgentProc(cfg, tmp_path / "agent.log").start()
    try:
        assert silent.accepted.wait(20), agent.log()  # a send is in flight, for 10 s
        assert agent.wait_log("(seq 3)")
        t0 = time.monotonic()
        agent.signal(15)
        code = agent.proc.wait(15)  # type: ignore[union-attr]
        elapsed = time.monotonic() - t0
    finally:
        if agent.alive():
            agent.kill9()
        silent.close()
    assert code == 0
    assert elapsed < 5, f"stopped {elapsed:.1f}s after SIGTERM"
    # every result the agent counted as spooled is in the spool, none acknowledged
    logged = sorted(int(s) for s in re.findall(r"\(seq (\d+)\)", agent.log()))
    db = sqlite3.connect(str(state / "spool.db"))
    stored = [row[0] for row in db.execute("SELECT seq FROM results ORDER BY seq")]
    db.close()
    assert stored == logged == list(range(1, len(logged) + 1))
    # and all of them arrive once a collector answers
    back = Standin(silent.port).start()
    agent = AgentProc(cfg, tmp_path / "agent2.log").start()
    try:
        assert back.wait_for(lambda: set(range(1, len(logged) + 1))
                             <= {r.get("seq") for r in list(back.results.values())}, 30)
        assert agent.terminate(10) == 0
    finally:
        if agent.alive():
            agent.kill9()
        back.stop()
