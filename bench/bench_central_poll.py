"""What `collector.central` costs the agent: CPU and bytes of an unchanged (304) poll, and the
agent's memory with central on vs off.

    .venv/bin/python bench/bench_central_poll.py [POLLS]

The poll is agent.central.fetch() against a raw socket server that answers 304 as the contract
says (ETag only); CPU is this thread's (time.thread_time), so the server's work is not counted.
Memory: two real agent processes (10 disk checks each, heartbeat 1 s) against the test stand-in,
RSS and PSS read from /proc after 8 s.
"""
from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.central import fetch
from agent.config import parse_config
from tests.agent.agentproc import AgentProc, disk_check, write_config
from tests.agent.central_standin import CentralStandin

REPLY = b'HTTP/1.1 304 Not Modified\r\nETag: "v12345678"\r\nConnection: close\r\n\r\n'


def serve(sock: socket.socket, sizes: list[int]) -> None:
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        sizes.append(len(data))
        conn.sendall(REPLY)
        conn.close()


def poll_cost(polls: int) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sizes: list[int] = []
    threading.Thread(target=serve, args=(sock, sizes), daemon=True).start()
    cfg = parse_config({"collector": {"url": f"http://127.0.0.1:{sock.getsockname()[1]}",
                                      "token": "x" * 43, "central": True},
                        "state_dir": tempfile.mkdtemp()})
    for _ in range(20):  # warm up
        fetch(cfg, "v12345678", lambda: None)
    t0, c0 = time.perf_counter(), time.thread_time()
    for _ in range(polls):
        assert fetch(cfg, "v12345678", lambda: None).kind == "unchanged"
    cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
    sock.close()
    print(f"unchanged poll (304), {polls} polls: agent CPU {cpu / polls * 1e6:.0f} µs/poll, "
          f"wall {wall / polls * 1e3:.2f} ms/poll; request {sizes[-1]} B, reply {len(REPLY)} B "
          f"(+ TCP handshake; a new connection per poll, as for results)")


def memory(pid: int) -> tuple[int, int]:
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def footprint() -> None:
    s = CentralStandin().start()
    s.set_doc("v1", [disk_check(f"tmpl-{i}", interval="30s") for i in range(5)])
    base = Path(tempfile.mkdtemp(prefix="bench-central-"))
    agents = {}
    for central in (False, True):
        d = base / ("on" if central else "off")
        d.mkdir()
        checks = [disk_check(f"local-{i}", interval="30s") for i in range(5 if central else 10)]
        cfg = write_config(d / "agent.yaml", s.url, d / "state", checks, heartbeat="1s",
                           collector={"central": central})
        agents[central] = AgentProc(cfg, d / "agent.log").start()
    time.sleep(8)
    for central, a in agents.items():
        rss, pss = memory(a.pid)
        which = "on  (10 disk checks, 5 of them central)" if central else "off (10 disk checks)"
        print(f"agent, central {which}: RSS {rss / 1024:.1f} MiB, PSS {pss / 1024:.1f} MiB")
        a.terminate()
    s.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    poll_cost(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    footprint()
