"""Benchmark of the notification side the collector's outbox calls on every message.

    .venv/bin/python bench/bench_notify.py [--n 20000] [--sends 300] [--rounds 5]

- render + route + rate-limit decision + digest folding, in-process (µs per notification);
- delivery to a loopback DingTalk stand-in (signed, markdown) through DingTalkChannel.send, against
  the peer: the same signed body POSTed with a bare urllib.request.urlopen (the cost of our layer).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.notify import Notification, build_channel, build_routes, fold_pending, next_allowed_at
from alerts.notify.message import dingtalk_body
from alerts.notify.robots import dingtalk_signed_url
from tests.helpers.notify_servers import FakeService, dingtalk

TOKEN, SECRET = "0123456789abcdef", "SECbench"


def notes(n: int) -> list[Notification]:
    t0 = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
    sev = ("critical", "warning", "info", "unknown")
    return [Notification(kind="ticket_opened", title=f"磁盘使用率 {80 + i % 20}%", text="/var 使用率超过阈值" * 3,
                         severity=sev[i % 4], unit=f"某市财政局{i % 7}", system=("voucher", "seal", "mq")[i % 3],
                         host=f"host-{i % 50:02d}", ticket_no=f"XJ-{i}", url=f"https://x.example.cn/t/{i}",
                         created_at=t0 + timedelta(seconds=i)) for i in range(n)]


def timed(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--sends", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    items = notes(args.n)
    ch = build_channel({"name": "ding", "type": "dingtalk", "secret": SECRET,
                        "url": f"http://127.0.0.1:1/robot/send?access_token={TOKEN}"})
    routes = [{"match": {"unit": f"某市财政局{u}", "min_severity": "critical"}, "channels": ["a"]} for u in range(20)]
    router = build_routes([*routes, {"channels": ["b"]}], ["a", "b"])
    sent = [1000.0 + i * 3 for i in range(20)]

    rows = [
        ("render DingTalk markdown body", timed(lambda: [ch.render(x) for x in items], args.n)),
        ("route (21 routes)", timed(lambda: [router.route(x) for x in items], args.n)),
        ("next_allowed_at (20 stored sends)",
         timed(lambda: [next_allowed_at(sent, 20, 60, 1059.0 + i % 5) for i in range(args.n)], args.n)),
        ("fold_pending 1000 pending -> digest (per call)",
         timed(lambda: [fold_pending(items[:1000], 20) for _ in range(20)], 20)),
    ]
    for name, us in rows:
        print(f"{name}: {us:.2f} µs")

    with FakeService(dingtalk(TOKEN, SECRET, limit=10**9)) as svc:
        ch = build_channel({"name": "ding", "type": "dingtalk", "secret": SECRET,
                            "url": f"{svc.url}/robot/send?access_token={TOKEN}"})
        batch = items[:args.sends]

        def ours() -> None:
            for x in batch:
                assert ch.send(x).ok

        def peer() -> None:
            for x in batch:
                url = dingtalk_signed_url(ch.options.url, SECRET, int(time.time() * 1000))
                req = urllib.request.Request(url, data=json.dumps(dingtalk_body(x, "[巡检]"), ensure_ascii=False)
                                             .encode(), headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as resp:
                    assert json.loads(resp.read())["errcode"] == 0

        ours()  # warm up
        runs = [(timed(ours, args.sends), timed(peer, args.sends)) for _ in range(args.rounds)]  # interleaved
        a, b = min(r[0] for r in runs), min(r[1] for r in runs)
    print(f"send to loopback DingTalk (best of {args.rounds}): {a:.0f} µs/msg; "
          f"peer bare urlopen: {b:.0f} µs/msg; ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
