"""Benchmark: the log check scanning a big log vs `grep -c` on the same file, in the same go.

    .venv/bin/python bench/bench_log_scan.py --size 1GiB
    .venv/bin/python bench/bench_log_scan.py --size 1GiB --pattern-set all --repeat 3

`--no-engine` runs the check without its compiled literal search (XUNJIAN_LOG_NO_AHOCORASICK=1, the
pure-Python path of a host without the `fast` extra); the "engine" column says which one ran.
`--pattern-set` picks the patterns (and the equivalent grep command): `literal` (the default),
`word-icase`, `digits`, `slow-response`, `four-literals`, or `all` for a table of them.
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
# name -> (the log check's patterns, grep's arguments doing the same, the ratio to reach)
PATTERN_SETS: dict[str, tuple[list[str], list[str], float]] = {
    "literal": (PATTERNS, ["-F", "-e", "ERROR", "-e", "凭证发送失败"], 1.0),
    "word-icase": ([r"(?i)\b(error|fatal|panic)\b"], ["-i", "-w", "-E", "-e", "error|fatal|panic"], 0.5),
    "digits": ([r"\d{4}ms"], ["-E", "-e", "[0-9]{4}ms"], 0.5),
    "slow-response": ([r"slow response \d{4}ms"], ["-E", "-e", "slow response [0-9]{4}ms"], 0.5),
    "four-literals": (["ERROR", "凭证发送失败", "FATAL", "签章失败"],
                      ["-F", "-e", "ERROR", "-e", "凭证发送失败", "-e", "FATAL", "-e", "签章失败"], 0.5),
}
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


def time_grep(path: Path, encoding: str, grep_args: list[str]) -> tuple[float, float, int]:
    # grep is given the patterns in the file's encoding, as bytes (C locale for non-UTF-8)
    env = dict(os.environ, LC_ALL="C") if encoding != "utf-8" else None
    cmd = [b"grep", b"-c", *(a.encode(encoding) for a in grep_args), os.fsencode(path)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, int(out)


def time_check(path: Path, encoding: str, patterns: list[str], engine: bool = True
               ) -> tuple[float, float, int, int, str]:
    """Scan in a child process so its peak RSS is the scanner's alone."""
    env = None if engine else dict(os.environ, XUNJIAN_LOG_NO_AHOCORASICK="1")
    out = subprocess.run([sys.executable, __file__, "--child", str(path), "--encoding", encoding,
                          "--patterns", json.dumps(patterns)],
                         capture_output=True, text=True, check=True, env=env).stdout
    d = json.loads(out)
    return d["seconds"], d["cpu"], d["events"], d["rss_kib"], d["engine"]


def child(path: Path, encoding: str, patterns: list[str]) -> None:
    from checks.base import StateStore
    from checks.log import LogCheck
    from checks.logtail import multisearch
    from checks.options import build

    size = path.stat().st_size
    options = build(LogCheck.Options, {"paths": [str(path)], "from": "start", "encoding": encoding,
                                       "patterns": {"critical": patterns},
                                       "max_bytes_per_run": size + 1}, "bench")
    check = LogCheck(options, state=StateStore(None))
    t0, c0 = time.perf_counter(), time.process_time()
    outcome = check.run()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    events = int(next(m.value for m in outcome.metrics if m.name == "critical_events"))
    engine = {False: "not needed", None: "memmem"}.get(multisearch._MODULE, "ahocorasick-rs")
    print(json.dumps({"seconds": seconds, "cpu": cpu, "events": events, "rss_kib": peak_rss_kib(),
                      "engine": engine}))


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
    ap.add_argument("--pattern-set", default="literal", choices=[*PATTERN_SETS, "all"])
    ap.add_argument("--keep", action="store_true", help="keep the generated log in /tmp")
    ap.add_argument("--no-engine", action="store_true", help="the check without ahocorasick-rs")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--patterns", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child), args.encoding, json.loads(args.patterns))
        return
    size = parse_size(args.size)
    suffix = "" if args.encoding == "utf-8" else f"-{args.encoding}"
    path = Path(f"/tmp/xunjian-bench-log-{size}{suffix}.log")
    if not path.exists() or abs(path.stat().st_size - size) > 4096:
        print(f"generating {path} ...", file=sys.stderr)
        generate(path, size, args.encoding)
    try:
        real = path.stat().st_size
        names = list(PATTERN_SETS) if args.pattern_set == "all" else [args.pattern_set]
        print(f"file: {path} ({real / 2**20:.0f} MiB, {args.encoding}), best of {args.repeat}, "
              f"load average before: {os.getloadavg()[0]:.2f}")
        print("| pattern set | patterns | grep -c (wall, CPU) | log check (wall, CPU) | ratio wall | "
              "ratio CPU | goal | grep lines = check events | check peak RSS | engine |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name in names:
            patterns, grep_args, goal = PATTERN_SETS[name]
            warm(path)
            g_best = c_best = g_cpu = c_cpu = float("inf")
            rss = 0
            g_count = c_count = -1
            engine = ""
            for _ in range(args.repeat):  # alternating, so both see the same load
                g, gc, g_count = time_grep(path, args.encoding, grep_args)
                c, cc, c_count, r, engine = time_check(path, args.encoding, patterns, not args.no_engine)
                g_best, c_best, rss = min(g_best, g), min(c_best, c), max(rss, r)
                g_cpu, c_cpu = min(g_cpu, gc), min(c_cpu, cc)
            gb = real / 1e9
            shown = ", ".join(f"`{p}`" for p in patterns).replace("|", "\\|")
            same = "yes" if g_count == c_count else f"NO ({g_count} vs {c_count})"
            print(f"| {name} | {shown} | {g_best:.3f} s ({gb / g_best:.2f} GB/s), {g_cpu:.3f} s | "
                  f"{c_best:.3f} s ({gb / c_best:.2f} GB/s), {c_cpu:.3f} s | {g_best / c_best:.2f} | "
                  f"{g_cpu / c_cpu:.2f} | {goal:.1f} | {same} | {rss / 1024:.0f} MiB | {engine} |", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
