"""The documented typical agent load, made of real check results: 20 checks (disk, system,
process, log, command, tcp, dirsize) run once on this machine, replayed as fresh results
(new id, new time) to fill a spool as an outage would. Used by the spool sizing test and by
bench/bench_spool_size.py."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from checks.base import StateStore
from checks.model import Result, uuid7
from checks.runner import instantiate, run_check
from checks.spec import parse_spec

CHECKS_PER_HOUR = 1620  # 20 checks at 30-60 s (issue 18's outage measurement)

_APP_LOG = (
    "2026-11-25 10:00:{s:02d},123 [pool-3-thread-{n}] ERROR c.f.voucher.SendService - 凭证发送失败: "
    "voucherNo=4403{n:08d} bank=102100099996 reason=java.net.SocketTimeoutException: Read timed out\n"
    "2026-11-25 10:00:{s:02d},456 [pool-3-thread-{n}] WARN  c.f.voucher.Queue - 队列积压 depth={n}\n"
)


def typical_checks(workdir: Path) -> list[dict[str, Any]]:
    """The raw config of the 20 checks."""
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for name, errors in (("voucher", 3), ("seal", 1), ("mq", 0), ("gateway", 0)):  # two quiet logs
        with open(logs / f"{name}.log", "w", encoding="utf-8") as f:
            for n in range(errors):
                f.write(_APP_LOG.format(s=n, n=n))
            f.write("2026-11-25 10:00:30,001 [main] INFO  c.f.Heartbeat - ok\n")
    (workdir / "data").mkdir(exist_ok=True)
    for i in range(50):
        (workdir / "data" / f"f{i}.dat").write_bytes(b"x" * (i * 100))
    plugin = ("printf 'OK - load average: 0.31, 0.42, 0.40|load1=0.310;4.000;6.000;0; "
              "load5=0.420;3.000;5.000;0; load15=0.400;2.000;4.000;0;\\n'")
    checks: list[dict[str, Any]] = [
        {"name": "root-disk", "type": "disk", "system": "os", "mounts": ["/"]},
        {"name": "tmp-disk", "type": "disk", "system": "os", "mounts": ["/tmp"]},
        {"name": "system", "type": "system", "system": "os"},
        {"name": "python-proc", "type": "process", "system": "voucher", "process_name": "python*"},
        {"name": "postgres-proc", "type": "process", "system": "voucher", "process_name": "postgres*", "count": "0:"},
        {"name": "sshd-proc", "type": "process", "system": "os", "process_name": "sshd*", "count": "0:"},
    ]
    for name, system in (("voucher", "voucher"), ("seal", "seal"), ("mq", "mq"), ("gateway", "voucher")):
        checks.append({"name": f"{name}-log", "type": "log", "system": system, "from": "start",
                       "paths": [str(logs / f"{name}.log")],
                       "patterns": {"critical": ["ERROR", "凭证发送失败"], "warning": ["WARN"]}})
    for i in range(4):
        checks.append({"name": f"plugin-{i}", "type": "command", "system": "os", "shell": True, "command": plugin})
    for i, port in enumerate((5432, 6379, 5672)):
        checks.append({"name": f"port-{i}", "type": "tcp", "system": "mq", "host": "127.0.0.1", "port": port,
                       "connect_timeout": "2s"})
    for i in range(3):
        checks.append({"name": f"data-{i}", "type": "dirsize", "system": "seal", "path": str(workdir / "data")})
    assert len(checks) == 20
    return checks


def typical_results(workdir: Path) -> list[Result]:
    """One real result of each of the 20 checks."""
    out = []
    for i, raw in enumerate(typical_checks(workdir)):
        spec = parse_spec(raw, f"checks[{i}]")
        check = instantiate(spec, StateStore(workdir / "state" / f"{spec.name}.json"))
        try:
            out.append(run_check(check, spec, "web01"))
        finally:
            check.close()
    return out


def replay(results: list[Result], count: int, start: Any = None) -> Iterator[Result]:
    """`count` fresh results cycling through `results`, 1620 an hour apart in time."""
    step = timedelta(seconds=3600 / CHECKS_PER_HOUR)
    for n in range(count):
        r = copy.copy(results[n % len(results)])
        r.id = uuid7()
        r.seq = None
        r.started_at = (start or r.started_at) + step * n
        r.details = copy.deepcopy(r.details)
        yield r
