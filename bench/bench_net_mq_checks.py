"""Benchmark of the network and middleware checks (tcp/http/cert/mq parsers).

    .venv/bin/python bench/bench_net_mq_checks.py [--queues 5000] [--requests 200] [--rounds 5]

- runmqsc parsing: DISPLAY QLOCAL + DISPLAY QSTATUS output for N queues, made by renaming the
  records of a real capture (Checkmk fixture), parsed by checks.mq.ibmmq against the peer: the
  one-regex `KEY(value)` scan many shell/Python scripts use (it cannot read nested values such as
  CONNAME(10.0.0.1(1414)); on this input both must agree on every CURDEPTH).
- the whole mq check through a fake runmqsc process serving that output (fork/exec included).
- HttpCheck.run against a loopback HTTPS server (test CA, fresh connection per request) against
  the peer httpx.get with a fresh client per request (the library the agent must not import);
  and what importing each costs.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.http import HttpCheck, HttpOptions
from checks.mq import MqCheck, MqOptions
from checks.mq.ibmmq import parse_runmqsc, queues_from_records
from checks.options import build
from tests.helpers.certs import make_ca, make_cert
from tests.helpers.fixtures import FIXTURES

_PEER_ATTR = re.compile(r"([A-Z][A-Z0-9]*)\(([^()]*)\)")


def runmqsc_output(n: int) -> str:
    text = (FIXTURES / "mq" / "ibmmq_checkmk_qlocal_qstatus_1.txt").read_text().split("\n", 1)[1]
    qlocal = ("AMQ8409: Display Queue details.\n   QUEUE(Q.{i})\n"
              "   TYPE(QLOCAL)                            MAXDEPTH(5000)\n")
    qstatus = [block for block in text.split("AMQ8450: ") if block.startswith("Display queue status")][1]
    qstatus = "AMQ8450: " + qstatus.replace("OTHER.LARGE.INPUT.TEST.FOR.CHECKMK", "Q.{i}")
    head = "5724-H72 (C) Copyright IBM Corp. 1994, 2015.\nStarting MQSC for queue manager QM1.\n\n"
    body = "".join(qlocal.format(i=i) for i in range(n))
    body += "".join(qstatus.replace("CURDEPTH(1400)", f"CURDEPTH({i % 977})").replace("{i}", str(i))
                    for i in range(n))
    return head + body + "2 MQSC commands read.\n"


def peer_depths(text: str) -> dict[str, int]:
    """The naive way: split on message lines, regex every KEY(value)."""
    out: dict[str, int] = {}
    for block in re.split(r"^AMQ\d{4}[A-Z]?:.*$", text, flags=re.M)[1:]:
        attrs = dict(_PEER_ATTR.findall(block))
        if "QUEUE" in attrs and "CURDEPTH" in attrs:
            out[attrs["QUEUE"]] = int(attrs["CURDEPTH"])
    return out


def best_of(rounds: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_parsers(n: int, rounds: int) -> None:
    text = runmqsc_output(n)
    ours = {q.name: q.depth for q in queues_from_records(parse_runmqsc(text))}
    assert ours == peer_depths(text) and len(ours) == n, "parsers disagree"
    t_ours = best_of(rounds, lambda: queues_from_records(parse_runmqsc(text)))
    t_peer = best_of(rounds, lambda: peer_depths(text))
    tracemalloc.start()
    queues_from_records(parse_runmqsc(text))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"runmqsc parse, {n} queues ({len(text) / 1e6:.2f} MB, {text.count(chr(10))} lines): "
          f"ours {t_ours * 1e3:.1f} ms, peer {t_peer * 1e3:.1f} ms, ratio ours/peer {t_ours / t_peer:.2f}, "
          f"peak {peak / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "out.txt"
        out.write_text(text)
        fake = Path(d) / "runmqsc"
        fake.write_text(f"#!/bin/sh\ncat > /dev/null\ncat '{out}'\n")
        fake.chmod(0o755)
        check = MqCheck(build(MqOptions, {"source": "ibmmq", "command": [str(fake)], "depth_warn": 900}, "b"))
        result = check.run()
        assert result.status.name == "WARNING", result.summary
        t_check = best_of(rounds, check.run)
    print(f"mq check (fake runmqsc process, {n} queues, judge + metrics): {t_check * 1e3:.1f} ms per run")


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"status: UP"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def bench_http(requests: int, rounds: int) -> None:
    import httpx

    with tempfile.TemporaryDirectory() as d:
        ca = make_ca()
        ca_file = Path(d) / "ca.crt"
        ca_file.write_bytes(ca.pem)
        srv = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
        srv.daemon_threads = True
        srv.socket = make_cert("localhost", issuer=ca).server_context(Path(d)).wrap_socket(
            srv.socket, server_side=True)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f"https://localhost:{srv.server_address[1]}/health"
        check = HttpCheck(build(HttpOptions, {"url": url, "ca_file": str(ca_file), "expect_body": "UP"}, "b"))
        assert check.run().status.name == "OK"

        def ours() -> None:
            for _ in range(requests):
                check.run()

        def peer() -> None:
            for _ in range(requests):
                with httpx.Client(verify=str(ca_file)) as c:
                    r = c.get(url)
                    assert r.status_code == 200 and "UP" in r.text

        ours_t, peer_t = [], []
        for _ in range(rounds):  # interleaved so both see the same machine load
            ours_t.append(best_of(1, ours))
            peer_t.append(best_of(1, peer))
        srv.shutdown()
        srv.server_close()
    o, p = min(ours_t) / requests, min(peer_t) / requests
    print(f"https GET loopback, fresh connection, {requests} x {rounds} rounds: "
          f"HttpCheck.run {o * 1e6:.0f} µs, peer httpx.Client+get {p * 1e6:.0f} µs, ratio ours/peer {o / p:.2f} "
          f"(median rounds {statistics.median(ours_t) / requests * 1e6:.0f} / "
          f"{statistics.median(peer_t) / requests * 1e6:.0f} µs)")


def bench_import() -> None:
    """Memory the agent pays to load the http check, against loading httpx for the same job."""
    import subprocess

    # VmRSS, not ru_maxrss: the latter keeps the forked parent's peak across exec.
    code = ("import time; t0 = time.perf_counter(); import {mod}; t = time.perf_counter() - t0; "
            "rss = [ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmRSS')][0]; "
            "print(t, rss)")
    base = subprocess.run([sys.executable, "-c", code.format(mod="os")], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()
    for mod in ("checks.http", "httpx"):
        out = subprocess.run([sys.executable, "-c", code.format(mod=mod)], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()
        print(f"import {mod}: {float(out[0]) * 1e3:.1f} ms, RSS {int(out[1]) / 1024:.1f} MB "
              f"(bare interpreter {int(base[1]) / 1024:.1f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queues", type=int, default=5000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    print(f"Python {sys.version.split()[0]}")
    bench_parsers(a.queues, a.rounds)
    bench_http(a.requests, a.rounds)
    bench_import()


if __name__ == "__main__":
    main()
