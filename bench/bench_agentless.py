"""Benchmark one round of agentless inspection: 4 checks on this machine through a loopback sshd.

Runs in the same go: (a) the agent's way, locally; (b) the poller over one reused SSH connection;
(c) the peer, Nagios check_by_ssh style: one OpenSSH client connection per check running the
equivalent plugin (check_disk, check_procs x2, a grep -c on the log). Also counts the SSH commands
a poller round sends and the cost of one bare command (`true`) on this sshd, which is mostly the
target's login shell start-up (here root's ~/.bashrc runs `pyenv init`).

Usage: .venv/bin/python bench/bench_agentless.py [--rounds 10] [--log-lines 10000]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.agentless import ssh as ssh_module  # noqa: E402
from agent.agentless.config import parse_poller_config  # noqa: E402
from agent.agentless.poller import Target  # noqa: E402
from checks.base import StateStore  # noqa: E402
from checks.runner import instantiate, run_check  # noqa: E402
from checks.spec import parse_spec  # noqa: E402
from tests.helpers.sshd import keygen, start_sshd  # noqa: E402

P = "/usr/lib/nagios/plugins"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--log-lines", type=int, default=10000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        key = keygen(d / "id_ed25519")
        (d / "sshd").mkdir()
        server = start_sshd(d / "sshd", key)
        try:
            run(d, key, server, args)
        finally:
            server.stop()


def run(d: Path, key: Path, server: Any, args: Any) -> None:
    logs = d / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text("")
    marker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", "bench-agentless-marker"])
    checks = [
        {"name": "root-disk", "type": "disk", "mounts": ["/"]},
        {"name": "app-log", "type": "log", "paths": [f"{logs}/*.log"]},
        {"name": "marker", "type": "process", "cmdline": "bench-agentless-marker"},
        {"name": "procs", "type": "command", "command": [f"{P}/check_procs", "-a", "bench-agentless-marker",
                                                        "-c", "1:"]},
    ]
    known = d / "known_hosts"
    known.write_text(server.known_hosts_line())
    cfg = parse_poller_config({"collector": {"url": "http://127.0.0.1:9"}, "state_dir": str(d / "poller"),
                               "targets": [{"name": "loop", "address": "127.0.0.1", "port": server.port,
                                            "user": "root", "key": str(key), "known_hosts": str(known),
                                            "token": "t", "checks": checks}]})
    target = Target(cfg.targets[0])
    specs = [parse_spec(c, c["name"]) for c in checks]
    local = [(s, instantiate(s, StateStore(d / "local" / f"{s.name}.json"))) for s in specs]
    peer = [["ssh", "-p", str(server.port), "-i", str(key), "-o", f"UserKnownHostsFile={known}", "-o",
             "BatchMode=yes", "root@127.0.0.1", cmd] for cmd in (
        f"{P}/check_disk -w 20% -c 10% -p /", f"grep -c ERROR {app}",
        f"{P}/check_procs -a bench-agentless-marker -c 1:", f"{P}/check_procs -a bench-agentless-marker -c 1:")]

    starts = 0
    real_framed = ssh_module._framed

    def counting(script: str, nonce: str) -> str:
        nonlocal starts
        starts += 1
        return real_framed(script, nonce)

    ssh_module._framed = counting  # type: ignore[assignment]
    times: dict[str, list[float]] = {"local": [], "poller": [], "peer": []}
    per_check: dict[str, list[float]] = {s.name: [] for s in specs}
    bare: list[float] = []
    try:
        target.round()  # first sight of the log, connection opened
        for local_state in local:
            run_check(local_state[1], local_state[0], "local")
        for _ in range(args.rounds):
            with app.open("a") as f:
                f.write("".join(f"2026-11-25 10:00:00 INFO line {i} ERROR x\n" if i % 100 == 0 else
                                f"2026-11-25 10:00:00 INFO line {i}\n" for i in range(args.log_lines)))
            t0 = time.perf_counter()
            for s, c in local:
                run_check(c, s, "local")
            times["local"].append(time.perf_counter() - t0)
            starts_before = starts
            t0 = time.perf_counter()
            results = target.round()
            times["poller"].append(time.perf_counter() - t0)
            for r in results:
                per_check[r.check].append(r.duration)
            commands = starts - starts_before
            t0 = time.perf_counter()
            for argv in peer:
                subprocess.run(argv, capture_output=True, check=False)
            times["peer"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            target.session().run("true", timeout=30)
            bare.append(time.perf_counter() - t0)
    finally:
        ssh_module._framed = real_framed  # type: ignore[assignment]
        target.close()
        marker.kill()
        marker.wait()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"rounds {args.rounds}, {args.log_lines} new log lines per round, 4 checks")
    for k in ("local", "poller", "peer"):
        print(f"{k:7s} median {med[k] * 1000:8.1f} ms per round (min {min(times[k]) * 1000:.1f})")
    print("poller per check (median ms): " + ", ".join(
        f"{n} {statistics.median(v) * 1000:.0f}" for n, v in per_check.items()))
    print(f"SSH commands per poller round: {commands}; bare `true` on this sshd: "
          f"{statistics.median(bare) * 1000:.0f} ms")
    print(f"ratios: poller/local {med['poller'] / med['local']:.1f}x, poller/peer {med['poller'] / med['peer']:.2f}x")


if __name__ == "__main__":
    main()
