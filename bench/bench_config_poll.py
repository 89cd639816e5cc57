"""Cost of agents polling their central config (GET /api/v1/agent/config) on a real collector process.

Starts `xunjian-collector serve` (one worker) on a fresh database holding N enrolled hosts (labels
system=voucher|seal|mq|os in turn, two units) and the four starter templates, one of them staged at 5 %,
then every agent polls once over keep-alive loopback connections, in three passes:
- `first`: each agent's first poll (its token looked up in the database, 200 with the body);
- `304`: the heartbeat's usual poll, If-None-Match with the version it holds;
- `changed`: the poll after a template change (a new generation: the rollout state is read again,
  200 with a new body).
Prints, per pass, the collector process's CPU microseconds per request (psutil, user + system), the
response bytes (body; headers apart) and requests per second.

    .venv/bin/python bench/bench_config_poll.py --db sqlite --hosts 10000
    .venv/bin/python bench/bench_config_poll.py --db postgres --hosts 10000
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_ingest import Conn, fresh_db  # noqa: E402
from checks.model import SYSTEMS  # noqa: E402

BIN = Path(sys.executable).parent


def prepare(db_url: str, hosts: int) -> list[str]:
    from collector import migrate
    from collector.db import make_engine, make_sessionmaker
    from collector.hosts.models import Host
    from collector.security import AGENT_TOKEN_PREFIX, new_token, token_digest
    from collector.templates import service
    from collector.templates.cli import read_file
    from collector.templates.validate import parse_template

    engine = make_engine(db_url)
    migrate.upgrade(engine)
    tokens = []
    now = datetime.now(timezone.utc)
    with make_sessionmaker(engine)() as db:
        for i in range(hosts):
            token = new_token(AGENT_TOKEN_PREFIX)
            unit = "某市财政局" if i % 2 else "某县财政局"
            db.add(Host(name=f"h{i:05d}", unit=unit, room="", labels={"unit": unit, "system": SYSTEMS[i % 4]},
                        token_hash=token_digest(token), enrolled_at=now, agent_version="", heartbeat_seconds=30.0,
                        online=True, dropped_total=0, rejected_total=0))
            tokens.append(token)
        for name in ("os", "voucher", "seal", "mq"):
            service.apply(db, parse_template(read_file(f"starter:{name}")), actor="bench", now=now)
        text = read_file("starter:voucher").replace("interval: 30s", "interval: 45s", 1)
        service.apply(db, parse_template(text), percent=5, actor="bench", now=now)
        db.commit()
    engine.dispose()
    return tokens


async def one_pass(port: int, tokens: list[str], etags: dict[str, str], conns: int) -> tuple[int, dict[int, int]]:
    queue = list(enumerate(tokens))
    body_bytes = 0
    codes: dict[int, int] = {}

    async def worker() -> None:
        nonlocal body_bytes
        c = Conn(port)
        while queue:
            _, token = queue.pop()
            extra = f'"{etags[token]}"' if token in etags else None
            status, data = await request(c, token, extra)
            codes[status] = codes.get(status, 0) + 1
            body_bytes += len(data)
            if status == 200:
                etags[token] = data.split(b'"version":"', 1)[1].split(b'"', 1)[0].decode()

    await asyncio.gather(*(worker() for _ in range(conns)))
    return body_bytes, codes


async def request(c: Conn, token: str, etag: str | None) -> tuple[int, bytes]:
    if c.writer is None:
        c.reader, c.writer = await asyncio.open_connection("127.0.0.1", c.port)
    head = f"GET /api/v1/agent/config HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    if etag:
        head += f"If-None-Match: {etag}\r\n"
    c.writer.write((head + "\r\n").encode())
    assert c.reader is not None
    status = int((await c.reader.readline()).split()[1])
    length = 0
    while True:
        line = await c.reader.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        if k.lower() == "content-length":
            length = int(v)
    return status, await c.reader.readexactly(length)


def cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--hosts", type=int, default=10_000)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--port", type=int, default=8791)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url, drop = fresh_db(args.db, Path(tmp))
        try:
            t0 = time.perf_counter()
            tokens = prepare(db_url, args.hosts)
            print(f"{args.hosts} hosts and 4 starter templates (voucher v2 at 5 %) in {time.perf_counter() - t0:.1f} s")
            config = Path(tmp) / "collector.yaml"
            config.write_text("jobs_enabled: false\n", encoding="utf-8")  # only the polls use the CPU
            env = {**os.environ, "XUNJIAN_CONFIG": str(config)}
            proc = subprocess.Popen([str(BIN / "xunjian-collector"), "serve", "--db", db_url, "--port", str(args.port),
                                     "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL)
            try:
                from tests.conftest import wait_http

                wait_http(f"http://127.0.0.1:{args.port}/healthz")
                server = psutil.Process(proc.pid)
                etags: dict[str, str] = {}
                for label in ("first", "304", "changed"):
                    if label == "changed":
                        change(db_url)
                        time.sleep(1.2)  # the generation's life in the serving process
                    c0, w0 = cpu(server), time.perf_counter()
                    body, codes = asyncio.run(one_pass(args.port, tokens, etags, args.conns))
                    used, wall = cpu(server) - c0, time.perf_counter() - w0
                    n = sum(codes.values())
                    print(f"{label:>8}: {used / n * 1e6:7.0f} µs CPU/request, {body / n:7.0f} body bytes/request, "
                          f"{n / wall:6.0f} requests/s, status {codes}")
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=30)
        finally:
            if drop:
                drop()


def change(db_url: str) -> None:
    from collector.db import make_engine, make_sessionmaker
    from collector.templates import service
    from collector.templates.cli import read_file
    from collector.templates.validate import parse_template

    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as db:
        text = read_file("starter:os").replace("interval: 60s", "interval: 90s", 1)
        service.apply(db, parse_template(text), actor="bench", now=datetime.now(timezone.utc))
        db.commit()
    engine.dispose()


if __name__ == "__main__":
    main()
