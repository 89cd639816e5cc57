"""Ingest latency of a real collector process while failed console logins run in parallel loops.

Each login loop posts a wrong password for a fresh user name from a fresh address (X-Forwarded-For, which
the collector believes from 127.0.0.1), so every try costs a full scrypt check and no throttle ends it.
Prints the median and p90 of single-result ingest batches sent one after another, first quiet, then with
the login loops running; the ratio is the figure (the machine's other load cancels out).

    .venv/bin/python bench/bench_login_loop.py                     # this tree
    .venv/bin/python bench/bench_login_loop.py --src /tmp/base     # another checkout (e.g. git archive)
"""
from __future__ import annotations

import argparse
import itertools
import json
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(src: Path, *args: str, stdin: str = "") -> str:
    return subprocess.run([sys.executable, "-m", "collector.cli", *args], cwd=src, input=stdin, text=True,
                          capture_output=True, check=True).stdout


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def batch() -> bytes:
    now = datetime.now(timezone.utc).isoformat()
    return json.dumps({"agent": {"version": "bench"}, "results": [{
        "id": str(uuid.uuid4()), "seq": 1, "host": "web01", "check": "disk", "type": "disk", "system": "os",
        "status": "OK", "summary": "ok", "started_at": now, "duration": 0.01, "metrics": [], "details": {}}]}).encode()


def ingest_latencies(base: str, token: str, seconds: float) -> list[float]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        status = post(f"{base}/api/v1/results", batch(), {"Authorization": f"Bearer {token}",
                                                           "Content-Type": "application/json"})
        out.append(time.perf_counter() - t0)
        assert status == 200, status
    return out


def login_loop(base: str, stop: threading.Event, counter: itertools.count) -> None:
    while not stop.is_set():
        n = next(counter)
        addr = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        req = urllib.request.Request(f"{base}/console/login", headers={"X-Forwarded-For": addr})
        with urllib.request.urlopen(req, timeout=30) as r:
            page = r.read().decode()
            cookie = r.headers["set-cookie"].split(";")[0]
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf": csrf, "username": f"guess{n}", "password": "wrong"}).encode()
        post(f"{base}/console/login", form, {"Cookie": cookie, "X-Forwarded-For": addr,
                                            "Content-Type": "application/x-www-form-urlencoded"})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", type=Path, default=REPO)
    ap.add_argument("--loops", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xunjian-login-bench-"))
    db = f"sqlite:///{work / 'bench.db'}"
    token = cli(args.src, "agent", "enroll", "web01", "--db", db).strip().splitlines()[-1]
    cli(args.src, "user", "add", "ops", "--role", "engineer", "--password-stdin", "--db", db, stdin="right-pass\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(work / "collector.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "serve", "--db", db, "--port", str(port),
                             "--log-level", "warning"], cwd=args.src, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        quiet = ingest_latencies(base, token, args.seconds)
        stop = threading.Event()
        counter = itertools.count()
        loops = [threading.Thread(target=login_loop, args=(base, stop, counter), daemon=True)
                 for _ in range(args.loops)]
        for t in loops:
            t.start()
        time.sleep(1.0)
        loaded = ingest_latencies(base, token, args.seconds)
        stop.set()
        for t in loops:
            t.join(30)
        logins = next(counter)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()

    def ms(xs: list[float], q: float) -> float:
        return statistics.quantiles(xs, n=10)[int(q * 10) - 1] * 1000 if q < 1 else 0.0

    med_q, med_l = statistics.median(quiet) * 1000, statistics.median(loaded) * 1000
    print(f"src={args.src} quiet: n={len(quiet)} median={med_q:.1f} ms p90={ms(quiet, 0.9):.1f} ms | "
          f"{args.loops} login loops ({logins} logins): n={len(loaded)} median={med_l:.1f} ms "
          f"p90={ms(loaded, 0.9):.1f} ms | ratio {med_l / med_q:.1f}x")


if __name__ == "__main__":
    main()
