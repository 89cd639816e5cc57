"""Ingest throughput of a real collector process: many agents post 100-result batches over loopback HTTP.

Starts `xunjian-collector serve --workers W` on a fresh database, enrolls N hosts through the API
(each agent posts with its own token), then C concurrent connections post realistic batches (log,
disk and process results, mostly OK, ~2 % CRITICAL so that tickets open and recover) for D seconds.
Every agent first posts one small batch (its first contact, untimed; `--no-warmup` times the fleet's
start-up instead). Prints results/s, p50/p99 request latency and the CPU milliseconds per batch spent
by the collector, PostgreSQL and the load generator, and checks that every accepted result was stored
once.

    .venv/bin/python bench/bench_ingest.py --db sqlite --hosts 10000 --seconds 20
    .venv/bin/python bench/bench_ingest.py --db postgres --hosts 10000 --seconds 20
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from checks.model import uuid7  # noqa: E402

PG_ADMIN = os.environ.get("XUNJIAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent


def fresh_db(kind: str, workdir: Path) -> tuple[str, object]:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN)
    with admin.begin() as c:
        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as c:
            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    return f"{PG_ADMIN}?options=-csearch_path%3D{schema}", drop


class Conn:
    """One keep-alive HTTP/1.1 connection; minimal so the load generator costs little CPU."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, token: str, body: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            if k.lower() == "content-length":
                length = int(v)
            elif k.lower() == "connection" and v.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return status, data


CHECKS = [("voucher-log", "log", "voucher"), ("seal-log", "log", "seal"), ("root-disk", "disk", "os"),
          ("data-disk", "disk", "os"), ("voucher-proc", "process", "voucher")]


def make_batch(host: str, n: int, t0: datetime, rng: random.Random, bad_share: float,
               seq0: Optional[int] = None) -> bytes:
    """`seq0`: the agent's spool sequence number of the first result (None: results without one)."""
    results = []
    for i in range(n):
        check, type_, system = CHECKS[i % len(CHECKS)]
        at = (t0 + timedelta(milliseconds=i)).isoformat()
        bad = type_ == "log" and rng.random() < bad_share * len(CHECKS) / 2
        if type_ == "log":
            ev = rng.randint(1, 9) if bad else 0
            metrics = [{"name": "critical_events", "value": ev, "unit": "", "warn": None, "crit": "0",
                        "min": 0, "max": None},
                       {"name": "warning_events", "value": 0, "unit": "", "warn": "0", "crit": None,
                        "min": 0, "max": None}]
            summary = f"发现 {ev} 条严重错误, 0 条警告 (app.log)" if bad else "无新错误 (app.log)"
            details = {"samples": ["2026-11-25 10:00:01 ERROR 凭证发送失败 id=42"]} if bad else {}
        elif type_ == "disk":
            mount = "/" if check == "root-disk" else "/data"
            used = rng.uniform(20, 70)
            metrics = [{"name": f"used_percent:{mount}", "value": round(used, 2), "unit": "%", "warn": "80",
                        "crit": "90", "min": 0, "max": 100},
                       {"name": f"free_bytes:{mount}", "value": int((100 - used) * 1e9), "unit": "B",
                        "warn": None, "crit": None, "min": 0, "max": None}]
            summary, details = f"{mount} 已用 {used:.1f}%", {}
        else:
            metrics = [{"name": "processes", "value": 1, "unit": "", "warn": None, "crit": "1:", "min": 0,
                        "max": None}]
            summary, details = "进程 java(voucher) 运行中 1 个", {}
        results.append({"id": str(uuid7()), "seq": None if seq0 is None else seq0 + i, "host": host,
                        "check": check, "type": type_,
                        "system": system, "status": "CRITICAL" if bad else "OK", "summary": summary,
                        "started_at": at, "duration": 0.004, "metrics": metrics, "details": details})
    return json.dumps({"agent": {"host": host, "version": "bench", "heartbeat": 30}, "results": results},
                      ensure_ascii=False).encode()


async def enroll(port: int, key: str, hosts: int, conns: int) -> list[tuple[str, str]]:
    names = [f"bench-{i:05d}" for i in range(hosts)]
    out: list[tuple[str, str]] = []
    queue = list(names)

    async def worker() -> None:
        c = Conn(port)
        while queue:
            name = queue.pop()
            body = json.dumps({"host": name, "labels": {"unit": f"单位{int(name[-5:]) % 50}"}}).encode()
            status, data = await c.request("POST", "/api/v1/agents", key, body)
            assert status == 200, data
            out.append((name, json.loads(data)["token"]))
    await asyncio.gather(*(worker() for _ in range(conns)))
    return out


def pregenerate(agents: list[tuple[str, str]], count: int, size: int, bad_share: float,
                seq: bool) -> list[tuple[str, bytes]]:
    rng = random.Random(1)
    now = datetime.now(timezone.utc).astimezone(timezone(timedelta(hours=8)))
    out = []
    for i in range(count):
        host, token = agents[i % len(agents)]
        # each agent's batches move forward in time: results of one check arrive in order; its spool's
        # sequence numbers grow likewise (after the warm-up batch's)
        t0 = now - timedelta(minutes=30) + timedelta(seconds=i // len(agents))
        seq0 = len(CHECKS) + 1 + (i // len(agents)) * size if seq else None
        out.append((token, make_batch(host, size, t0, rng, bad_share, seq0)))
    return out


async def load(port: int, bodies: list[tuple[str, bytes]], conns: int, seconds: float,
               size: int) -> tuple[int, int, list[float], dict[int, int], float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted = duplicates = 0
    idx = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal idx, accepted, duplicates
        c = Conn(port)
        while time.perf_counter() < deadline and idx < len(bodies):
            token, body = bodies[idx]
            idx += 1
            t = time.perf_counter()
            status, data = await c.request("POST", "/api/v1/results", token, body)
            latencies.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                reply = json.loads(data)
                accepted += reply["accepted"]
                duplicates += reply["duplicates"]
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conns)))
    return accepted, duplicates, latencies, statuses, time.perf_counter() - t0


def cpu_seconds(collector_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the collector processes, PostgreSQL's processes and this load generator
    (the three share the machine's cores, so their split says where a result's cost goes), and the
    collector's share of it spent in the kernel."""
    import psutil

    out = {"collector": 0.0, "postgres": 0.0, "loadgen": 0.0, "collector_kernel": 0.0}
    me = os.getpid()
    tree = {collector_pid} | {c.pid for c in psutil.Process(collector_pid).children(recursive=True)}
    for p in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        t = p.info["cpu_times"]
        if t is None:
            continue
        used = t.user + t.system
        cmd = " ".join(p.info["cmdline"] or [])
        if p.pid == me:
            out["loadgen"] += used
        elif p.info["name"] == "postgres" or cmd.startswith("postgres:"):
            out["postgres"] += used
        elif p.pid in tree:
            out["collector"] += used
            out["collector_kernel"] += t.system  # of which in the kernel: sockets, futexes, thread switches
    return out


def count_rows(db_url: str) -> tuple[int, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    with engine.connect() as c:
        n = c.execute(sa.text("SELECT count(*) FROM results")).scalar_one()
        t = c.execute(sa.text("SELECT count(*) FROM tickets")).scalar_one()
    engine.dispose()
    return int(n), int(t)


def wait_jobs_idle(db_url: str, timeout: float = 300) -> float:
    """Wait until the periodic jobs that start with the collector (rollups, monthly report, ...) have
    finished their first run, so that the load phase measures ingest, not a one-off PDF rendering."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    t0 = time.perf_counter()
    time.sleep(6)  # every job is claimed within one tick (5 s)
    try:
        while time.perf_counter() - t0 < timeout:
            with engine.connect() as c:
                busy = c.execute(sa.text("SELECT count(*) FROM job_runs WHERE (last_ok_at IS NULL OR "
                                         "last_ok_at < last_run_at) AND last_error = ''")).scalar_one()
            if not busy:
                break
            time.sleep(1)
    finally:
        engine.dispose()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--hosts", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--conns", type=int, default=32, help="concurrent posting connections")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=float, default=80000, help="results/s to pre-generate for (upper bound)")
    ap.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True,
                    help="one small batch per agent before the timed load (steady state, not a fleet's start-up)")
    ap.add_argument("--warmup-rounds", type=int, default=1,
                    help="posts of the warm-up batch per agent (each reaches a random worker process; 4 rounds "
                         "leave about 6 %% of the agents unknown to a given one of two workers)")
    ap.add_argument("--concurrency", type=int, help="ingest.concurrency: batches in work at once per process")
    ap.add_argument("--group-max", type=int, help="ingest.group_max: batches per write transaction at most")
    ap.add_argument("--group-writers", type=int, help="ingest.group_writers: write transactions at once per process")
    ap.add_argument("--bad-share", type=float, default=0.002, help="share of CRITICAL results")
    ap.add_argument("--seq", action=argparse.BooleanOptionalAction, default=True,
                    help="results carry the spool sequence numbers real agents send (--no-seq: none, as from "
                         "an agent whose spool is unwritable, or another client)")
    ap.add_argument("--code", help="run the collector from this source tree (e.g. `git archive` of an older "
                    "commit) to compare before/after in the same go")
    ap.add_argument("--profile", help="write a py-spy flame graph (SVG) of one worker here")
    ap.add_argument("--profile-gil", action=argparse.BooleanOptionalAction, default=True,
                    help="sample only the thread holding the GIL (--no-profile-gil: every running thread, so time "
                         "in C code that releases the GIL, such as SQLite's, shows too)")
    args = ap.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    db_url, drop = fresh_db(args.db, workdir)
    env = {**os.environ, "XUNJIAN_DB_URL": db_url}
    ingest = {k: v for k, v in (("concurrency", args.concurrency), ("group_max", args.group_max),
                                 ("group_writers", args.group_writers)) if v}
    if ingest:
        config = workdir / "collector.yaml"
        config.write_text("ingest:\n" + "".join(f"  {k}: {v}\n" for k, v in ingest.items()), encoding="utf-8")
        env["XUNJIAN_CONFIG"] = str(config)
    serve = [str(BIN / "xunjian-collector")]
    if args.code:
        env["PYTHONPATH"] = args.code
        serve = [sys.executable, "-m", "collector.cli"]
    key = subprocess.run([*serve, "user", "add", "bench", "--role", "admin"], env=env, cwd=args.code or None,
                         check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    sys.path.insert(0, str(REPO / "tests"))
    from tests.conftest import free_port, wait_http

    port = free_port()
    log = open(workdir / "collector.log", "wb")
    proc = subprocess.Popen([*serve, "serve", "--db", db_url, "--port", str(port),
                             "--workers", str(args.workers), "--log-level", "warning"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True, cwd=args.code or None)
    spy = None
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        t = time.perf_counter()
        agents = asyncio.run(enroll(port, key, args.hosts, 16))
        print(f"enrolled {len(agents)} hosts in {time.perf_counter() - t:.1f}s", flush=True)
        print(f"start-up jobs done after {wait_jobs_idle(db_url):.1f}s", flush=True)
        count = int(args.rate * args.seconds / args.batch) + args.conns
        t = time.perf_counter()
        bodies = pregenerate(agents, count, args.batch, args.bad_share, args.seq)
        print(f"generated {count} batches in {time.perf_counter() - t:.1f}s", flush=True)
        warm = 0
        if args.warmup:
            # every agent's first contact before the clock starts: in steady state the hosts' states
            # exist and their tokens are known; first contacts are the start-up of a fleet, not its load
            t = time.perf_counter()
            first = [(token, make_batch(host, len(CHECKS), datetime.now(timezone.utc) - timedelta(hours=1),
                                        random.Random(2), 0.0, 1 if args.seq else None)) for host, token in agents]
            warm = asyncio.run(load(port, first, args.conns, 3600, len(CHECKS)))[0]
            # the same batch again (stored once): each post reaches a worker process at random, and a
            # worker that has not seen an agent yet looks its token up; in steady state every worker has
            # seen every agent within the token cache's life
            for _ in range(args.warmup_rounds - 1):
                asyncio.run(load(port, first, args.conns, 3600, len(CHECKS)))
            print(f"warm-up: first contact of {len(first)} agents ({args.warmup_rounds} rounds) in "
                  f"{time.perf_counter() - t:.1f}s", flush=True)
        if args.profile:
            import psutil

            child = psutil.Process(proc.pid).children(recursive=True)[-1]
            spy = subprocess.Popen([os.environ.get("PY_SPY", str(BIN / "py-spy")), "record", "-o", args.profile,
                                    "-p", str(child.pid),
                                    "-d", str(int(args.seconds)), "--nonblocking",
                                    "--format", "flamegraph" if args.profile.endswith(".svg") else "raw",
                                    *(["--gil"] if args.profile_gil else [])],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu0 = cpu_seconds(proc.pid)
        accepted, dups, lat, statuses, elapsed = asyncio.run(load(port, bodies, args.conns, args.seconds,
                                                                  args.batch))
        cpu1 = cpu_seconds(proc.pid)
        if spy is not None:
            spy.wait(timeout=60)
        stored, tickets = count_rows(db_url)
        lat.sort()
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
        print(json.dumps({
            "db": args.db, "workers": args.workers, "hosts": args.hosts, "conns": args.conns, "batch": args.batch,
            "requests": len(lat), "statuses": statuses, "accepted": accepted, "duplicates": dups,
            "stored": stored - warm, "tickets": tickets, "seconds": round(elapsed, 2),
            "results_per_s": round(accepted / elapsed), "p50_ms": round(p(0.50), 1), "p99_ms": round(p(0.99), 1),
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None,
            "cpu_ms_per_batch": {k: round((cpu1[k] - cpu0[k]) * 1000 / max(1, len(lat)), 2) for k in cpu0},
            "load_avg_1m": round(os.getloadavg()[0], 2),
        }, ensure_ascii=False))
        if stored != accepted + warm:
            print(f"MISMATCH: stored {stored} != accepted {accepted} + warm-up {warm}", file=sys.stderr)
            return 1
        return 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        if drop is not None:
            drop()


if __name__ == "__main__":
    sys.exit(main())
