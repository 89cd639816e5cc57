"""Benchmark one round of 20 configured checks, as an agent runs them, on this machine's real
mounts, processes, directories, log files and local services.

Peer, run in the same go: the same round done the NRPE way, by the equivalent Nagios plugins
(monitoring-plugins-basic) and `du -sb`, one process per check. CPU time counts the benchmark
process and all its children (os.times), so plugins and `command` children are included.

Usage: .venv/bin/python bench/bench_check_round.py [--rounds 10] [--log-lines 1000]
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from checks.base import StateStore
from checks.runner import instantiate, run_check
from checks.spec import CheckSpec, parse_spec

P = "/usr/lib/nagios/plugins"


def configs(logdir: Path) -> list[dict[str, Any]]:
    c: list[dict[str, Any]] = [
        {"name": "root-disk", "type": "disk", "mounts": ["/"]},
        {"name": "all-disks", "type": "disk"},
        {"name": "root-free", "type": "disk", "mounts": ["/"], "warn_free": "20GiB", "crit_free": "5GiB"},
        {"name": "every-mount", "type": "disk", "fstypes": ["*"]},
        {"name": "os", "type": "system"},
        {"name": "pg-proc", "type": "process", "process_name": "postgres", "count": "1:"},
        {"name": "mq-proc", "type": "process", "cmdline": r"beam\.smp", "rss_crit": "4GiB"},
        {"name": "root-sshd", "type": "process", "process_name": "sshd", "user": "root", "count": "0:"},
        {"name": "pythons", "type": "process", "process_name": "python*", "count": "0:"},
        {"name": "voucher-proc", "type": "process", "cmdline": "voucher-server", "count": "0:"},
        {"name": "docs-size", "type": "dirsize", "path": "/usr/share/doc"},
        {"name": "venv-size", "type": "dirsize", "path": "/work/main/.venv"},
        {"name": "log-size", "type": "dirsize", "path": "/var/log", "growth_warn": "1GiB"},
        {"name": "nagios-disk", "type": "command", "command": [f"{P}/check_disk", "-w", "10%", "-c", "5%",
                                                                "-p", "/"]},
        {"name": "nagios-procs", "type": "command", "command": [f"{P}/check_procs", "-w", "1:", "-C",
                                                                 "postgres"]},
        {"name": "nagios-tcp", "type": "command", "command": [f"{P}/check_tcp", "-H", "127.0.0.1", "-p",
                                                               "5432"]},
        {"name": "nagios-load", "type": "command", "command": [f"{P}/check_load", "-w", "4,3,2", "-c",
                                                                "8,6,4"]},
        {"name": "nagios-swap", "type": "command", "command": [f"{P}/check_swap", "-w", "50%", "-c",
                                                                "20%"]},
    ]
    try:
        import checks.log  # noqa: F401  (the other engineer's check, if it is there)

        c += [{"name": "voucher-log", "type": "log", "paths": [str(logdir / "voucher.log")]},
              {"name": "seal-log", "type": "log", "paths": [str(logdir / "seal*.log")]}]
    except ImportError:
        c += [{"name": "os-2", "type": "system"}, {"name": "tmp-size", "type": "dirsize", "path": "/tmp"}]
    return c


def peer_commands(logdir: Path, olddir: Path) -> list[list[str]]:
    """The same 20 checks as one plugin (or du) process each."""
    return [
        [f"{P}/check_disk", "-w", "20%", "-c", "10%", "-p", "/"],
        [f"{P}/check_disk", "-w", "20%", "-c", "10%", "-x", "tmpfs", "-x", "devtmpfs"],
        [f"{P}/check_disk", "-w", "20%", "-c", "10%", "-W", "20%", "-p", "/"],
        [f"{P}/check_disk", "-w", "20%", "-c", "10%", "-A"],
        [f"{P}/check_load", "-r", "-w", "4,3,2", "-c", "8,6,4"],
        [f"{P}/check_procs", "-c", "1:", "-C", "postgres"],
        [f"{P}/check_procs", "-c", "1:", "-a", "beam.smp"],
        [f"{P}/check_procs", "-C", "sshd", "-u", "root"],
        [f"{P}/check_procs", "-a", "python"],
        [f"{P}/check_procs", "-a", "voucher-server"],
        ["du", "-sb", "/usr/share/doc"],
        ["du", "-sb", "/work/main/.venv"],
        ["du", "-sb", "/var/log"],
        [f"{P}/check_disk", "-w", "10%", "-c", "5%", "-p", "/"],
        [f"{P}/check_procs", "-w", "1:", "-C", "postgres"],
        [f"{P}/check_tcp", "-H", "127.0.0.1", "-p", "5432"],
        [f"{P}/check_load", "-w", "4,3,2", "-c", "8,6,4"],
        [f"{P}/check_swap", "-w", "50%", "-c", "20%"],
        [f"{P}/check_log", "-F", str(logdir / "voucher.log"), "-O", str(olddir / "voucher.old"), "-q", "ERROR"],
        [f"{P}/check_log", "-F", str(logdir / "seal-1.log"), "-O", str(olddir / "seal.old"), "-q", "ERROR"],
    ]


def cpu_now() -> tuple[float, float]:
    """(own CPU seconds, reaped children's CPU seconds), microsecond resolution."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def append_logs(logdir: Path, lines: int, round_no: int) -> None:
    for name in ("voucher.log", "seal-1.log"):
        with open(logdir / name, "a", encoding="utf-8") as f:
            for i in range(lines):
                level = "ERROR" if i % 10 == 0 else "INFO"
                f.write(f"2026-11-25 10:00:{i % 60:02d} {level} [main] round {round_no} 凭证 {i} 处理完成\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--log-lines", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        logdir, olddir = Path(tmp, "logs"), Path(tmp, "old")
        logdir.mkdir()
        olddir.mkdir()
        append_logs(logdir, args.log_lines, 0)
        specs: list[CheckSpec] = [parse_spec(c, f"checks[{i}]") for i, c in enumerate(configs(logdir))]
        checks = [(s, instantiate(s, StateStore(None))) for s in specs]
        peer = peer_commands(logdir, olddir)
        assert len(specs) == len(peer) == 20
        for s, c in checks:  # warm-up: imports, first samples, log positions
            run_check(c, s, "bench")
        for cmd in peer:
            subprocess.run(cmd, capture_output=True)
        per_check: dict[str, list[float]] = {s.name: [] for s in specs}
        ours_wall, peer_wall = [], []
        ours_own = ours_kids = peer_kids = 0.0
        for r in range(1, args.rounds + 1):
            append_logs(logdir, args.log_lines, r)
            (o0, k0), w0 = cpu_now(), time.perf_counter()
            for s, c in checks:
                t = time.perf_counter()
                res = run_check(c, s, "bench")
                per_check[s.name].append(time.perf_counter() - t)
                assert not res.summary.startswith("检查执行异常"), (s.name, res.summary)
            ours_wall.append(time.perf_counter() - w0)
            (o1, k1) = cpu_now()
            ours_own += o1 - o0
            ours_kids += k1 - k0
            (o0, k0), w0 = cpu_now(), time.perf_counter()
            for cmd in peer:
                subprocess.run(cmd, capture_output=True)
            peer_wall.append(time.perf_counter() - w0)
            peer_kids += cpu_now()[1] - k0
        for _, c in checks:
            c.close()

    med = statistics.median
    n = args.rounds
    ours_cpu, peer_cpu = (ours_own + ours_kids) / n, peer_kids / n
    print(f"rounds={n} checks=20 log_lines_per_file_per_round={args.log_lines}")
    print(f"xunjian round : wall median {med(ours_wall) * 1000:7.1f} ms  cpu mean {ours_cpu * 1000:7.1f} ms "
          f"(in-process {ours_own / n * 1000:.1f}, plugin children {ours_kids / n * 1000:.1f})")
    print(f"plugin round  : wall median {med(peer_wall) * 1000:7.1f} ms  cpu mean {peer_cpu * 1000:7.1f} ms")
    print(f"ratio (peer/xunjian): wall {med(peer_wall) / med(ours_wall):.2f}x  cpu {peer_cpu / ours_cpu:.2f}x")
    print("per check (median wall ms):")
    for s in specs:
        print(f"  {s.type:8s} {s.name:14s} {med(per_check[s.name]) * 1000:8.2f}")


if __name__ == "__main__":
    main()
