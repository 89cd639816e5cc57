"""Footprint of the Xunjian agent against prometheus-node-exporter and zabbix_agentd.

Runs the three side by side on this machine for `--duration` seconds after a warm-up and reports
steady resident memory (RSS, PSS and USS from /proc/PID/smaps_rollup, summed over each process
tree) and CPU seconds per minute of the tree. CPU is read from each process's CPU-time clock
(clock_gettime on the clock id of clock_getcpuclockid(pid): nanoseconds, every thread including the
ones that already ended), plus the user + system ticks of children already reaped; the user/system
split shown beside it comes from /proc/PID/stat, whose 10 ms ticks are too coarse for the total.
`--baseline [NAME=]DIR` (repeatable) also runs the agent from another source tree (e.g. `git archive`
of an older commit) with the same configuration, so before and after are measured in the same go.

Workloads, chosen to be comparable:
- agent: 20 checks at 60 s (disk, system, process, log, dirsize), sending to a stand-in collector
  on loopback (tests/agent/standin.py); five log files get a line per second each;
- node_exporter: default collectors, scraped every `--scrape` seconds (Prometheus' default
  scrape_interval is 1 minute);
- zabbix_agentd: default config plus loopback listen, 20 passive items polled every 60 s, as a
  Zabbix server would for 20 items at a 1 minute update interval.

The agent runs from a venv laid out like a release of xunjian-deploy (made --without-pip, only the
agent's runtime requirements; `--dev-venv` uses this .venv instead, with its .pth hooks), with the
Environment= settings of its source tree's systemd unit (deploy/systemd/xunjian-agent.service).
Each agent runs from a copy of its tree's agent/ and checks/ compiled to bytecode, as pip leaves a
release (a source tree without __pycache__, under PYTHONDONTWRITEBYTECODE, would be compiled at
every start, which a release never is: +0.3 MiB resident in docs/benchmarks.md).

Usage: .venv/bin/python bench/bench_agent_footprint.py [--duration 600] [--warmup 30] [--baseline [NAME=]DIR ...]
Needs: apt-get install -y prometheus-node-exporter zabbix-agent (see scripts/system-packages.txt).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.agent.standin import Standin  # noqa: E402

ZABBIX_ITEMS = [
    "system.cpu.load[all,avg1]", "system.cpu.util[,user]", "system.cpu.util[,system]",
    "vm.memory.size[available]", "vm.memory.size[pavailable]", "system.swap.size[,pfree]",
    "vfs.fs.size[/,pused]", "vfs.fs.size[/,free]", "vfs.fs.inode[/,pfree]", "proc.num[]",
    "proc.num[python3]", "proc.num[zabbix_agentd]", "system.uptime", "system.users.num",
    "net.if.in[lo]", "net.if.out[lo]", "vfs.file.size[/etc/passwd]", "vfs.dir.size[/etc]",
    "kernel.maxproc", "agent.ping",
]


def free_port(low: int = 20000, high: int = 32767) -> int:
    """A free loopback port in [low, high] (zabbix_agentd accepts 1024..32767 only)."""
    import random

    for port in random.sample(range(low, high), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free port")


def agent_checks(work: Path) -> list[dict[str, Any]]:
    logs = work / "logs"
    checks: list[dict[str, Any]] = []
    for i, mounts in enumerate([["/"], ["/"], [], []]):
        checks.append({"name": f"disk-{i}", "type": "disk", "mounts": mounts})
    for i in range(3):
        checks.append({"name": f"system-{i}", "type": "system"})
    for i, name in enumerate(["python*", "zabbix_agentd", "bash", "init"]):
        checks.append({"name": f"process-{i}", "type": "process", "process_name": name, "count": "0:"})
    for i in range(5):
        checks.append({"name": f"log-{i}", "type": "log", "system": "voucher", "paths": [str(logs / f"app{i}.log")],
                       "patterns": {"critical": ["ERROR", "凭证发送失败"], "warning": ["WARN"]}})
    for i, path in enumerate([work, logs, "/etc", str(ROOT / "checks")]):
        checks.append({"name": f"dirsize-{i}", "type": "dirsize", "path": str(path)})
    for c in checks:
        c.setdefault("system", "os")
        c["interval"] = "60s"
    return checks


def write_logs(logs: Path, stop: threading.Event) -> None:
    n = 0
    while not stop.wait(1.0):
        n += 1
        for i in range(5):
            with open(logs / f"app{i}.log", "a", encoding="gbk" if i == 0 else "utf-8") as f:
                level = "ERROR 凭证发送失败" if n % 97 == 0 else "INFO 凭证已发送"
                f.write(f"2026-11-25 10:00:{n % 60:02d} {level} seq={n}\n")


def zabbix_get(port: int, key: str) -> bytes:
    payload = key.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"ZBXD\x01" + struct.pack("<Q", len(payload)) + payload)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def memory(pid: int) -> dict[str, int]:
    out = {"rss": 0, "pss": 0, "uss": 0}
    for p in tree(pid):
        try:
            with open(f"/proc/{p.pid}/smaps_rollup") as f:
                d = {}
                for line in f.readlines()[1:]:
                    k, v = line.split(":", 1)
                    d[k] = int(v.split()[0]) * 1024
        except OSError:
            continue
        out["rss"] += d.get("Rss", 0)
        out["pss"] += d.get("Pss", 0)
        out["uss"] += d.get("Private_Clean", 0) + d.get("Private_Dirty", 0)
    return out


def process_cpu_ns(pid: int) -> int:
    """CPU time of every thread of `pid` (ended ones included), in ns: the process's CPU-time clock,
    whose id glibc's clock_getcpuclockid builds as ((~pid) << 3) | CPUCLOCK_SCHED."""
    return time.clock_gettime_ns(((~pid) << 3) | 2)


def stat_ticks(pid: int) -> tuple[int, int, int, int]:
    """(utime, stime, cutime, cstime) clock ticks from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[11]), int(fields[12]), int(fields[13]), int(fields[14])


def cpu_seconds(pid: int) -> tuple[float, float, float]:
    """(total, user, system) CPU seconds of the process tree. The total is the exact CPU clock of
    each live process plus the ticks of children already reaped; user and system are ticks."""
    hz = os.sysconf("SC_CLK_TCK")
    total = user = system = 0.0
    for p in tree(pid):
        try:
            ns = process_cpu_ns(p.pid)
            ut, st, cut, cst = stat_ticks(p.pid)
        except (OSError, psutil.NoSuchProcess):
            continue  # ended between listing and reading: its parent's cutime/cstime has it next time
        total += ns / 1e9 + (cut + cst) / hz
        user += (ut + cut) / hz
        system += (st + cst) / hz
    return total, user, system


class Subject:
    def __init__(self, name: str, argv: list[str], cwd: Path, env: Optional[dict[str, str]] = None,
                 log: Optional[Path] = None) -> None:
        self.name = name
        self.log = open(log or cwd / f"{name}.log", "wb")
        self.proc = subprocess.Popen(argv, cwd=str(cwd), stdout=self.log, stderr=self.log, env=env,
                                     start_new_session=True)
        self.samples: list[dict[str, int]] = []
        self.cpu0 = (0.0, 0.0, 0.0)
        self.cpu1 = (0.0, 0.0, 0.0)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


def delivered(collector: Standin) -> dict[str, int]:
    """Results received so far, per agent host name."""
    with collector.lock:
        hosts = [str(r.get("host")) for r in collector.results.values()]
    return {h: hosts.count(h) for h in sorted(set(hosts))}


def mapping(pid: int, part: str) -> Optional[tuple[str, int]]:
    """(file name, number of processes mapping it) for the first file of `pid` whose path holds `part`."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            paths = [line.split()[-1] for line in f if part in line]
    except OSError:
        return None
    if not paths:
        return None
    count = 0
    for p in psutil.pids():
        try:
            with open(f"/proc/{p}/maps") as f:
                count += any(paths[0] in line for line in f)
        except OSError:
            continue
    return os.path.basename(paths[0]), count


def release_python(work: Path) -> str:
    """An interpreter laid out like a release of xunjian-deploy (deploy/bundle.py): a venv made
    --without-pip holding only the agent's runtime requirements, not the development .venv with its
    .pth hooks (the editable install's import finder, setuptools' distutils shim) that no deployed
    agent has."""
    venv = work / "release-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    requirements = [line.split(";")[0].strip() for line in _agent_requirements()]
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python, "install",
                    "-q", *requirements], check=True)
    return python


def _agent_requirements() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]


def unit_environment(root: Path) -> dict[str, str]:
    """The Environment= settings of source tree `root`'s systemd unit: what a deployed agent runs with."""
    import shlex

    unit = root / "deploy" / "systemd" / "xunjian-agent.service"
    env: dict[str, str] = {}
    if unit.exists():
        for line in unit.read_text(encoding="utf-8").splitlines():
            if line.startswith("Environment="):
                for item in shlex.split(line[len("Environment="):]):
                    key, _, value = item.partition("=")
                    env[key] = value
    return env


def compiled_copy(root: Path, dest: Path, python: str) -> Path:
    """agent/ and checks/ of source tree `root` copied to `dest` and compiled to bytecode by
    `python`, as `pip install` leaves the package in a release."""
    for package in ("agent", "checks"):
        shutil.copytree(root / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([python, "-m", "compileall", "-q", str(dest)], check=True, stdout=subprocess.DEVNULL)
    return dest


def agent_subject(name: str, root: Path, config: Path, python: str) -> Subject:
    """The agent from source tree `root` (a compiled copy of it), started as the installed console
    script starts it, with the environment its systemd unit gives it."""
    tree = compiled_copy(root, config.with_suffix(".tree"), python)
    env = dict(os.environ, **unit_environment(root), PYTHONPATH=str(tree))
    code = "import sys; from agent.cli import main; sys.exit(main())"
    return Subject(name, [python, "-c", code, "run", "--config", str(config)], tree, env=env,
                   log=config.with_suffix(".log"))


def _named(arg: str, index: int) -> tuple[str, Path]:
    """`NAME=DIR` or `DIR` (named baseline, baseline 2, ...) of --baseline."""
    name, sep, path = arg.partition("=")
    if not sep:
        name, path = "baseline" if index == 0 else f"baseline {index + 1}", arg
    return name, Path(path).resolve()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=600.0, help="measured seconds (default 600)")
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds before measuring (default 30)")
    ap.add_argument("--baseline", action="append", default=[], metavar="[NAME=]DIR",
                    help="also run the agent from this source tree (same config, own state_dir); repeatable")
    ap.add_argument("--dev-venv", action="store_true",
                    help="run the agent with this .venv's interpreter instead of a release-like venv")
    ap.add_argument("--scrape", type=float, default=60.0, help="node_exporter scrape interval (default 60)")
    ap.add_argument("--sample", type=float, default=5.0, help="memory sampling period (default 5)")
    args = ap.parse_args()

    node_exporter = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    zabbix = shutil.which("zabbix_agentd") or "/usr/sbin/zabbix_agentd"
    if not node_exporter or not os.path.exists(zabbix):
        print("needs prometheus-node-exporter and zabbix-agent (apt-get install -y ...)", file=sys.stderr)
        return 2

    baselines = [_named(b, i) for i, b in enumerate(args.baseline)]
    for label, tree in baselines:
        if not (tree / "agent").is_dir():  # checked before anything is started
            print(f"--baseline {label}: {tree} has no agent/ (give NAME=DIR)", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="xj-bench-"))
    (work / "logs").mkdir()
    for i in range(5):
        (work / "logs" / f"app{i}.log").write_text("start\n", encoding="utf-8")
    stop_logs = threading.Event()
    threading.Thread(target=write_logs, args=(work / "logs", stop_logs), daemon=True).start()
    collector = Standin().start()
    for name in ["agent", *(f"baseline{i}" for i in range(len(baselines)))]:
        cfg = {"collector": {"url": collector.url, "token": "test-token"}, "host": {"name": f"bench-{name}"},
               "state_dir": str(work / f"state-{name}"), "checks": agent_checks(work)}
        (work / f"{name}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    ne_port, zb_port = free_port(), free_port()
    (work / "zabbix_agentd.conf").write_text(
        f"PidFile={work}/zabbix_agentd.pid\nLogType=console\nServer=127.0.0.1\nListenIP=127.0.0.1\n"
        f"ListenPort={zb_port}\nHostname=bench\nAllowRoot=1\n", encoding="utf-8")

    python = sys.executable if args.dev_venv else release_python(work)
    subjects = [
        agent_subject("xunjian-agent", ROOT, work / "agent.yaml", python),
        Subject("node_exporter", [node_exporter, f"--web.listen-address=127.0.0.1:{ne_port}"], work),
        Subject("zabbix_agentd", [zabbix, "-f", "-c", str(work / "zabbix_agentd.conf")], work),
    ]
    for i, (label, tree) in enumerate(baselines):
        subjects.insert(1 + i, agent_subject(f"xunjian-agent ({label})", tree, work / f"baseline{i}.yaml", python))
    stop_load = threading.Event()

    def load() -> None:
        next_scrape = next_poll = time.monotonic() + 2
        while not stop_load.is_set():
            now = time.monotonic()
            if now >= next_scrape:
                next_scrape += args.scrape
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{ne_port}/metrics", timeout=10).read()
                except OSError as e:
                    print(f"node_exporter scrape failed: {e}", file=sys.stderr)
            if now >= next_poll:
                next_poll += 60
                for key in ZABBIX_ITEMS:
                    try:
                        zabbix_get(zb_port, key)
                    except OSError as e:
                        print(f"zabbix poll {key} failed: {e}", file=sys.stderr)
            stop_load.wait(0.5)

    threading.Thread(target=load, daemon=True).start()
    load0 = os.getloadavg()
    try:
        time.sleep(args.warmup)
        for s in subjects:
            if s.proc.poll() is not None:
                print(f"{s.name} exited early; see {work}/{s.name}.log", file=sys.stderr)
                return 1
            s.cpu0 = cpu_seconds(s.proc.pid)
        received0 = delivered(collector)
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.duration:
            for s in subjects:
                s.samples.append(memory(s.proc.pid))
            time.sleep(args.sample)
        elapsed = time.monotonic() - t0
        for s in subjects:
            s.cpu1 = cpu_seconds(s.proc.pid)
        received = {k: v - received0.get(k, 0) for k, v in delivered(collector).items()}
        sharing = mapping(subjects[0].proc.pid, "libpython")
        load1 = os.getloadavg()
    finally:
        stop_load.set()
        stop_logs.set()
        for s in subjects:
            s.stop()
        collector.stop()

    rows = {}
    for s in subjects:
        n = len(s.samples)
        rows[s.name] = {
            "rss": sum(x["rss"] for x in s.samples) / n / 2**20,
            "rss_max": max(x["rss"] for x in s.samples) / 2**20,
            "pss": sum(x["pss"] for x in s.samples) / n / 2**20,
            "uss": sum(x["uss"] for x in s.samples) / n / 2**20,
            "cpu": (s.cpu1[0] - s.cpu0[0]) / (elapsed / 60),
            "user": (s.cpu1[1] - s.cpu0[1]) / (elapsed / 60),
            "system": (s.cpu1[2] - s.cpu0[2]) / (elapsed / 60),
        }
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"### Agent footprint vs node_exporter and zabbix_agentd ({when})\n")
    baseline = "".join(f" --baseline {b}" for b in args.baseline)
    baseline += " --dev-venv" if args.dev_venv else ""
    counts = ", ".join(f"{n} from {h}" for h, n in received.items())
    print(f"`.venv/bin/python bench/bench_agent_footprint.py --duration {args.duration:g} "
          f"--warmup {args.warmup:g} --scrape {args.scrape:g}{baseline}` on {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, load average {load0[0]:.2f} at the start and {load1[0]:.2f} "
          f"at the end; agent: 20 checks at 60 s, {counts} delivered in {elapsed:.0f} s; "
          f"node_exporter scraped every {args.scrape:g} s; zabbix_agentd polled for {len(ZABBIX_ITEMS)} "
          f"items every 60 s.\n")
    if sharing:
        print(f"PSS splits shared pages among the processes mapping them: at the end {sharing[1]} processes on "
              f"this machine mapped the agent's {sharing[0]}.\n")
    print("| process | RSS MiB (mean / max) | PSS MiB | USS MiB | CPU s per minute | (user + system ticks) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['rss']:.1f} / {r['rss_max']:.1f} | {r['pss']:.1f} | {r['uss']:.1f} | "
              f"{r['cpu']:.4f} | ({r['user']:.3f} + {r['system']:.3f}) |")
    print()
    for agent in [n for n in rows if n.startswith("xunjian-agent")]:
        a = rows[agent]
        for peer in [n for n in rows if not n.startswith("xunjian-agent")]:
            p = rows[peer]
            cpu_ratio = a["cpu"] / p["cpu"] if p["cpu"] > 0 else float("inf")
            print(f"- {agent} / {peer}: RSS {a['rss'] / p['rss']:.2f}x, PSS {a['pss'] / p['pss']:.2f}x, "
                  f"USS {a['uss'] / p['uss']:.2f}x, CPU {cpu_ratio:.2f}x")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
