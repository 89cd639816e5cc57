"""Benchmark: the log check scanning a big log vs `grep -c` on the same file, in the same go.

    .venv/bin/python bench/bench_log_scan.py --size 1GiB

The log (realistic Java-style lines, ~2.5% ERROR of which a fifth carry 凭证发送失败 and a short
stack trace, ~4.5% WARN) is generated once into /tmp and reused. Both scanners read it from the
page cache (warmed first); the best of --repeat runs is reported, with the scan child's peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.options import parse_size

PATTERNS = ["ERROR", "凭证发送失败"]
INFO = ["凭证接收成功 voucherNo={a} bank=ICBC amount={b}.00", "GET /api/voucher/{a} 200 {b}ms",
        "Scheduler tick queue=Q.VOUCHER.IN depth={b} consumers=4", "签章完成 sealId={a} cost={b}ms",
        "connection pool stats active={b} idle=12", "回执入库 receiptNo={a} 状态=已处理"]


def generate(path: Path, size: int, encoding: str) -> None:
    rnd = random.Random(20261125)
    block: list[str] = []
    for _ in range(200_000):  # ~24 MiB of distinct lines, repeated to the size asked
        r = rnd.random()
        ts = f"2026-11-25 10:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}.{rnd.randrange(1000):03d}"
        th = f"[http-nio-8080-exec-{rnd.randrange(200)}]"
        if r < 0.02:
            block.append(f"{ts} ERROR {th} c.x.v.VoucherSender - voucher send failed id={rnd.randrange(10**6)}\n")
        elif r < 0.025:
            block.append(f"{ts} ERROR {th} c.x.v.VoucherSender - 凭证发送失败 voucherNo={rnd.randrange(10**8)}\n"
                         "\tat com.x.v.Sender.send(Sender.java:42)\n"
                         "\tat java.base/java.lang.Thread.run(Thread.java:833)\n")
        elif r < 0.07:
            block.append(f"{ts} WARN  {th} c.x.v.Pool - slow response {rnd.randrange(5000)}ms\n")
        else:
            msg = rnd.choice(INFO).format(a=rnd.randrange(10**7), b=rnd.randrange(1000))
            block.append(f"{ts} INFO  {th} c.x.v.Service - {msg}\n")
    data = "".join(block).encode(encoding)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        written = 0
        while written < size:
            piece = data[:size - written]
            cut = piece.rfind(b"\n") + 1 if len(piece) < len(data) else len(piece)
            if cut == 0:
                break
            f.write(piece[:cut])
            written += cut
    os.replace(tmp, path)


def warm(path: Path) -> None:
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 24):
            pass


def time_grep(path: Path, encoding: str) -> tuple[float, int]:
    # grep is given the patterns in the file's encoding, as bytes (C locale for non-UTF-8)
    env = dict(os.environ, LC_ALL="C") if encoding != "utf-8" else None
    args = [os.fsencode("grep"), b"-c"] + [x for p in PATTERNS for x in (b"-e", p.encode(encoding))]
    cmd = [*args, os.fsencode(path)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return time.perf_counter() - t0, int(out)


def time_check(path: Path, encoding: str) -> tuple[float, int, int]:
    """Scan in a child process so its peak RSS is the scanner's alone."""
    out = subprocess.run([sys.executable, __file__, "--child", str(path), "--encoding", encoding],
                         capture_output=True, text=True, check=True).stdout
    d = json.loads(out)
    return d["seconds"], d["events"], d["rss_kib"]


def child(path: Path, encoding: str) -> None:
    from checks.base import StateStore
    from checks.log import LogCheck
    from checks.options import build

    size = path.stat().st_size
    options = build(LogCheck.Options, {"paths": [str(path)], "from": "start", "encoding": encoding,
                                       "patterns": {"critical": PATTERNS},
                                       "max_bytes_per_run": size + 1}, "bench")
    check = LogCheck(options, state=StateStore(None))
    t0 = time.perf_counter()
    outcome = check.run()
    seconds = time.perf_counter() - t0
    events = int(next(m.value for m in outcome.metrics if m.name == "critical_events"))
    print(json.dumps({"seconds": seconds, "events": events, "rss_kib": peak_rss_kib()}))


def peak_rss_kib() -> int:
    """This process's own peak RSS (ru_maxrss would include the parent's, inherited over exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1GiB", help="log size, e.g. 64MiB, 1GiB")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--encoding", default="utf-8", choices=["utf-8", "gbk", "gb18030"])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child), args.encoding)
        return
    size = parse_size(args.size)
    suffix = "" if args.encoding == "utf-8" else f"-{args.encoding}"
    path = Path(f"/tmp/xunjian-bench-log-{size}{suffix}.log")
    if not path.exists() or abs(path.stat().st_size - size) > 4096:
        print(f"generating {path} ...", file=sys.stderr)
        generate(path, size, args.encoding)
    real = path.stat().st_size
    warm(path)
    g_best, c_best, rss = float("inf"), float("inf"), 0
    g_count = c_count = -1
    for _ in range(args.repeat):
        g, g_count = time_grep(path, args.encoding)
        c, c_count, r = time_check(path, args.encoding)
        g_best, c_best, rss = min(g_best, g), min(c_best, c), max(rss, r)
    gb = real / 1e9
    print(f"file: {path} ({real / 2**20:.0f} MiB, {args.encoding}), patterns {PATTERNS}, best of {args.repeat}")
    print(f"grep -c:   {g_best:.3f} s  {gb / g_best:.2f} GB/s  matching lines {g_count}")
    print(f"log check: {c_best:.3f} s  {gb / c_best:.2f} GB/s  events {c_count}  peak RSS {rss / 1024:.0f} MiB")
    print(f"ratio check/grep speed: {g_best / c_best:.2f}")
    if g_count != c_count:
        print(f"WARNING: counts differ (grep {g_count}, check {c_count})", file=sys.stderr)


if __name__ == "__main__":
    main()
