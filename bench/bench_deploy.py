"""Fleet rollout throughput: `xunjian-deploy status` over N real sshd "hosts" on loopback.

Measures wall time for the whole fleet at --parallel 1 and --parallel N, against a peer run in the
same go: the OpenSSH client (`ssh -o BatchMode=yes`) running the same probe serially and N-wide.
Also times building the offline bundle.

    .venv/bin/python bench/bench_deploy.py [--hosts 8] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.bundle import build_bundle
from deploy.cli import main as deploy_main


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def start_sshd(d: Path, client_pub: str) -> tuple[int, subprocess.Popen[bytes], str]:
    d.mkdir()
    hk = keygen(d / "host")
    (d / "auth").write_text(client_pub)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (d / "cfg").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {d}/pid\nAuthorizedKeysFile {d}/auth\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUsePAM no\nStrictModes no\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\nMaxStartups 100\n")
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(d / "cfg")])
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.02)
    kind, b64 = hk.with_suffix(".pub").read_text().split()[:2]
    return port, proc, f"[127.0.0.1]:{port} {kind} {b64}\n"


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    Path("/run/sshd").mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-deploy-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        key = keygen(tmp / "id")
        ports, known = [], ""
        for i in range(args.hosts):
            port, proc, line = start_sshd(tmp / f"sshd{i}", key.with_suffix(".pub").read_text())
            procs.append(proc)
            ports.append(port)
            known += line
        (tmp / "known_hosts").write_text(known)
        inv = tmp / "inv.yaml"
        inv.write_text(yaml.safe_dump({
            "defaults": {"user": "root", "key": str(key), "known_hosts": str(tmp / "known_hosts"),
                         "checks": [{"name": "root-disk", "type": "disk", "mounts": ["/"]}]},
            "collector": {"url": "http://127.0.0.1:9", "api_key_env": "XUNJIAN_BENCH_UNSET"},
            "prefix": str(tmp / "root"),
            "hosts": [{"name": f"h{i}", "address": "127.0.0.1", "port": p} for i, p in enumerate(ports)],
        }))
        devnull = open(os.devnull, "w")

        def ours(par: int) -> None:
            old = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = devnull
            try:
                deploy_main(["status", "-i", str(inv), "--parallel", str(par), "--quiet"])
            finally:
                sys.stdout, sys.stderr = old

        probe = "readlink /nonexistent/current; [ -d /run/systemd/system ]; sha256sum /nonexistent 2>/dev/null; true"

        def one_ssh(port: int) -> None:
            subprocess.run(["ssh", "-q", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={tmp}/known_hosts",
                            "-o", "StrictHostKeyChecking=yes", "-i", str(key), "-p", str(port), "root@127.0.0.1",
                            probe], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def peer(par: int) -> None:
            with ThreadPoolExecutor(par) as pool:
                list(pool.map(one_ssh, ports))

        rows = []
        for par in (1, args.hosts):
            ours_best = min(timed(lambda par=par: ours(par)) for _ in range(args.rounds))
            peer_best = min(timed(lambda par=par: peer(par)) for _ in range(args.rounds))
            rows.append((par, ours_best, peer_best))
        bundle_s = timed(lambda: build_bundle(tmp / "dist"))
        print(f"hosts={args.hosts} rounds={args.rounds} (best of)")
        print("| parallel | ours s (fleet) | ours ms/host | peer ssh s | ratio ours/peer |")
        for par, o, p in rows:
            print(f"| {par} | {o:.2f} | {o / args.hosts * 1000:.0f} | {p:.2f} | {o / p:.2f} |")
        ours_x, peer_x = rows[0][1] / rows[1][1], rows[0][2] / rows[1][2]
        print(f"speed-up parallel {args.hosts} vs 1: {ours_x:.1f}x (peer {peer_x:.1f}x)")
        print(f"bundle build (project wheel + pip download from cache): {bundle_s:.1f}s")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
