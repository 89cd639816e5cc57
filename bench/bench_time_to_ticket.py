"""Time from an error line written on a client server to the ticket visible in the API.

A real collector (`xunjian-collector serve`) and a real agent (`xunjian-agent run`) with a log check
every 5 s. Each trial appends an ERROR line at a random moment of the check's cycle and polls
GET /api/v1/tickets every 50 ms until the fault's ticket shows the new occurrence (the first trial
opens the ticket). Goal: at most the check interval + 2 s.

    .venv/bin/python bench/bench_time_to_ticket.py [--trials 8] [--interval 5] [--db sqlite|postgres]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_ingest import BIN, fresh_db  # noqa: E402
from tests.conftest import free_port, wait_http  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ttt-"))
    db_url, drop = fresh_db(args.db, work)
    env = {**os.environ, "XUNJIAN_DB_URL": db_url}
    cli = str(BIN / "xunjian-collector")
    token = subprocess.run([cli, "agent", "enroll", "ttt01"], env=env, check=True, capture_output=True,
                           text=True).stdout.strip().splitlines()[-1]
    key = subprocess.run([cli, "user", "add", "ttt", "--role", "admin"], env=env, check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clog = open(work / "collector.log", "wb")
    collector = subprocess.Popen([cli, "serve", "--db", db_url, "--port", str(port), "--log-level", "warning"],
                                 env=env, stdout=clog, stderr=subprocess.STDOUT)
    logs = work / "logs"
    logs.mkdir()
    app_log = logs / "voucher.log"
    app_log.write_bytes(b"")
    cfg = work / "agent.yaml"
    cfg.write_text(f"""
collector: {{url: "{url}", token: "{token}"}}
host: {{name: ttt01}}
state_dir: {work / 'state'}
checks:
  - {{name: voucher-log, type: log, system: voucher, interval: {args.interval}s, paths: ["{logs}/*.log"],
     from: end, patterns: {{critical: ["ERROR"]}}}}
""", encoding="utf-8")
    alog = open(work / "agent.log", "wb")
    agent = None

    def occurrences() -> int:
        req = urllib.request.Request(url + "/api/v1/tickets?status=open&host=ttt01",
                                     headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            items = [t for t in json.load(r)["items"] if t["check"] == "voucher-log"]
        return items[0]["occurrences"] if items else 0

    try:
        wait_http(url + "/healthz", 60)
        agent = subprocess.Popen([str(BIN / "xunjian-agent"), "run", "--config", str(cfg)], stdout=alog,
                                 stderr=subprocess.STDOUT)
        time.sleep(args.interval + 3)  # the first run takes the log's end as its start
        rng = random.Random(7)
        times = []
        for i in range(args.trials):
            before = occurrences()
            time.sleep(rng.uniform(0, args.interval))
            t0 = time.perf_counter()
            with open(app_log, "ab") as f:
                f.write(f"2026-11-25 10:00:00 ERROR 凭证发送失败 trial={i}\n".encode())
            while occurrences() <= before:
                if time.perf_counter() - t0 > 60:
                    raise TimeoutError("no ticket within 60 s")
                time.sleep(0.05)
            times.append(time.perf_counter() - t0)
            print(f"trial {i}: {times[-1]:.2f} s", flush=True)
        print(json.dumps({"db": args.db, "interval_s": args.interval, "trials": len(times),
                          "median_s": round(statistics.median(times), 2), "max_s": round(max(times), 2),
                          "min_s": round(min(times), 2), "goal_s": args.interval + 2}))
        return 0
    finally:
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=30)
        collector.send_signal(signal.SIGTERM)
        collector.wait(timeout=30)
        alog.close()
        clog.close()
        if drop is not None:
            drop()


if __name__ == "__main__":
    sys.exit(main())
