"""Slowloris against a real collector process: slow heads and bodies are cut at their deadlines, and
20,000 slow connections (from many addresses, more than the process has file descriptors for) leave
/healthz and ingest answering."""
from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.collector.factories import batch, result
from tests.conftest import bin_path, free_port, run_cli

pytestmark = pytest.mark.slow

SERVER_FILES = 4096  # the collector's open-file limit in these tests: 20,000 connections would exhaust it


class Collector:
    def __init__(self, db_url: str, workdir: Path, server: dict[str, Any]) -> None:
        env = {"XUNJIAN_DB_URL": db_url}
        enrolled = run_cli(bin_path("xunjian-collector"), "agent", "enroll", "web01", env=env)
        self.token = enrolled.strip().splitlines()[-1]
        config = workdir / "collector.yaml"
        config.write_text(json.dumps({"server": server, "jobs_enabled": False}), encoding="utf-8")
        self.port = free_port()
        self.log = open(workdir / "collector.log", "wb")

        def limit_files() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_FILES, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

        self.proc = subprocess.Popen([bin_path("xunjian-collector"), "serve", "--db", db_url, "--config", str(config),
                                      "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=limit_files)
        deadline = time.monotonic() + 60
        while self.get("/healthz", timeout=2)[0] != 200:
            assert self.proc.poll() is None and time.monotonic() < deadline, "collector did not start"
            time.sleep(0.2)

    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                timeout: float = 5) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError as e:
            return 0, str(e).encode()

    def get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        return self.request("GET", path, timeout=timeout)

    def ingest(self) -> int:
        return self.request("POST", "/api/v1/results", batch(result()), self.token)[0]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


@pytest.fixture
def start(db_url: str, tmp_path: Path) -> Iterator[Any]:
    made: list[Collector] = []

    def make(**server: Any) -> Collector:
        made.append(Collector(db_url, tmp_path, server))
        return made[-1]

    yield make
    for c in made:
        c.stop()


def closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closed the connection (None: still open after `seconds`), sending
    `trickle` every 0.5 s meanwhile."""
    t0 = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - t0 < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            pass
        except OSError:
            return time.monotonic() - t0
        if trickle:
            try:
                sock.sendall(trickle)
            except OSError:
                return time.monotonic() - t0
    return None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_slow_heads_silent_connections_and_stalled_bodies_are_cut(start: Any) -> None:
    c = start(header_timeout=1.5, body_timeout=1.5)
    addr = ("127.0.0.1", c.port)
    trickling = socket.create_connection(addr)
    trickling.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    silent = socket.create_connection(addr)
    stalled = socket.create_connection(addr)
    stalled.sendall(b"POST /api/v1/results HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + c.token.encode()
                    + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"agent\"")
    blank = socket.create_connection(addr)  # blank lines begin no message: on the clock all the same
    # every trickled line is progress, but the head's deadline counts from its first byte
    assert (closed_within(trickling, 6, b"X-Slow: 1\r\n") or 99) < 4
    for sock, trickle in ((silent, b""), (stalled, b""), (blank, b"\r\n")):
        assert closed_within(sock, 3, trickle) is not None  # the deadlines ran meanwhile
    for s in (trickling, silent, stalled, blank):
        s.close()
    # a request at a normal pace, and a keep-alive connection between requests, are left alone
    assert c.get("/healthz")[0] == 200 and c.ingest() == 200
    keep = socket.create_connection(addr)
    keep.settimeout(5)
    for _ in range(3):
        keep.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"}"):  # head and body may come in separate reads
            chunk = keep.recv(4096)
            assert chunk, answer
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK")
        time.sleep(1.0)
    keep.close()


async def slowloris(port: int, total: int, sources: list[str], stop: threading.Event,
                    stats: dict[str, int]) -> None:
    """`total` connections, each sending a request head one header line every 5 s, spread over
    `sources` (loopback addresses); each ends when the server closes it or `stop` is set."""

    async def one(i: int) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(sources[i % len(sources)], 0))
        except OSError:
            stats["failed"] += 1
            return
        stats["opened"] += 1
        stats["open"] += 1
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
            while not stop.is_set():
                try:
                    if await asyncio.wait_for(reader.read(1024), 5) == b"":
                        break
                except asyncio.TimeoutError:
                    writer.write(b"X-Slow: %d\r\n" % i)
        except OSError:
            pass
        finally:
            stats["open"] -= 1
            writer.close()

    gate = asyncio.Semaphore(400)  # connects in flight

    async def paced(i: int) -> None:
        async with gate:
            task = asyncio.ensure_future(one(i))
            await asyncio.sleep(0)
        await task

    await asyncio.gather(*(paced(i) for i in range(total)))


@pytest.mark.parametrize("db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_20000_slow_connections_leave_healthz_and_ingest_answering(start: Any) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 12_000:
        pytest.skip(f"the open-file hard limit {hard} is too low for this client")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        c = start()  # the defaults: 10 s head deadline, 64 per address, the file limit less a reserve
        sources = [f"127.0.{1 + i // 200}.{1 + i % 200}" for i in range(400)]  # 50 connections each
        stop = threading.Event()
        stats = {"opened": 0, "failed": 0, "open": 0}
        attack = threading.Thread(target=lambda: asyncio.run(slowloris(c.port, 20_000, sources, stop, stats)),
                                  daemon=True)
        attack.start()
        answers: list[tuple[str, int]] = []
        deadline = time.monotonic() + 120
        while stats["opened"] + stats["failed"] < 20_000 and time.monotonic() < deadline:
            answers.append(("healthz", c.get("/healthz")[0]))
            answers.append(("ingest", c.ingest()))
            time.sleep(0.5)
        peak_open = stats["open"]
        for _ in range(28):  # all 20,000 have been opened; the survivors trickle on
            answers.append(("healthz", c.get("/healthz")[0]))
        answers.append(("ingest", c.ingest()))
        stop.set()
        attack.join(30)
        assert stats["opened"] + stats["failed"] == 20_000, stats
        assert stats["opened"] > 19_000, stats  # the attack really connected
        assert [a for a in answers if a[1] != 200] == [], (len(answers), stats)
        assert peak_open < SERVER_FILES, (peak_open, stats)  # the process never held more than it can
        assert c.proc.poll() is None
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_one_address_holds_at_most_its_cap_and_its_new_connections_still_get_served(start: Any) -> None:
    c = start(max_connections_per_address=16, header_timeout=30)
    idle = []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", c.port), source_address=("127.0.0.9", 0))
        s.sendall(b"GET / HTTP/1.1\r\n")
        idle.append(s)
    time.sleep(1.0)
    alive = [s for s in idle if closed_within(s, 0.1) is None]
    assert len(alive) == 16
    # the same address's next request pushes out its oldest slow connection and is answered
    s = socket.create_connection(("127.0.0.1", c.port), source_address=("127.0.0.9", 0))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.settimeout(5)
    assert b"200 OK" in s.recv(4096)
    for sock in [*idle, s]:
        sock.close()
    assert os.path.exists(f"/proc/{c.proc.pid}")
