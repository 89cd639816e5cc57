"""system: CPU between runs with real busy processes, memory against /proc/meminfo, load per core."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from checks.base import StateStore
from checks.model import Status
from checks.options import ConfigError, build
from checks.spec import parse_spec
from checks.system import SystemCheck, SystemOptions, cpu_between, cpu_sample


def check(state: StateStore | None = None, **kw: object) -> SystemCheck:
    return SystemCheck(build(SystemOptions, kw, "test"), state=state)


def burn(seconds: float) -> None:
    """Keep every CPU busy with real processes for `seconds`."""
    code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(psutil.cpu_count() or 1)]
    for p in procs:
        p.wait()


def test_cpu_measured_between_runs_with_real_load() -> None:
    c = check()
    burn(1.5)
    out = c.run()
    cpu = out.details["cpu_percent"]
    assert cpu > 50, out.summary  # every core was spinning for most of the interval
    assert f"CPU {cpu:.0f}%" in out.summary
    names = [m.name for m in out.metrics]
    assert names[:2] == ["cpu_percent", "iowait_percent"]


def test_first_sample_comes_from_state_when_the_instance_is_fresh(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "system.json")
    check(store).run()  # what the agent saved at its last run
    time.sleep(0.6)
    one_shot = check(StateStore(tmp_path / "system.json", readonly=True))
    out = one_shot.run()  # primed a moment ago: too little CPU time; the agent's sample is used
    assert "cpu_percent" in out.details, out.summary


def test_cpu_between_refuses_samples_that_do_not_belong_together() -> None:
    cur = cpu_sample()
    assert cpu_between({**cur, "boot": cur["boot"] - 3600}, cur) is None  # rebooted since
    assert cpu_between({**cur, "at": cur["at"] - 7200}, cur) is None      # too old
    assert cpu_between({"total": "x"}, cur) is None
    old = {**cur, "total": cur["total"] - 10, "idle": cur["idle"] - 4, "iowait": cur["iowait"] - 1}
    assert cpu_between(old, cur) == pytest.approx((60.0, 10.0))


def test_memory_matches_proc_meminfo() -> None:
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        info[key] = int(rest.split()[0]) * 1024
    expected = (info["MemTotal"] - info["MemAvailable"]) / info["MemTotal"] * 100
    out = check().run()
    mem = next(m for m in out.metrics if m.name == "memory_percent")
    assert abs(mem.value - expected) < 1
    assert (mem.warn, mem.crit, mem.unit) == ("85", "95", "%")


def test_load_per_core() -> None:
    out = check().run()
    cores = psutil.cpu_count()
    for window, raw in zip((1, 5, 15), os.getloadavg()):
        m = next(x for x in out.metrics if x.name == f"load{window}_per_core")
        assert m.value == pytest.approx(raw / cores, abs=0.05)
    assert [m.warn for m in out.metrics if m.name.startswith("load")] == ["4", "3", "2"]


def test_alerts_come_first_in_the_summary() -> None:
    out = check(memory_warn="0", load_crit="@0:").run()  # memory > 0 warns, any load is critical
    assert out.status is Status.CRITICAL
    assert out.summary.startswith("负载/核 ")
    assert out.summary.split(", ")[1].startswith("内存 ")


def test_options() -> None:
    spec = parse_spec({"name": "sys", "type": "system", "load_warn": [4, 3, 2], "cpu_crit": 98}, "c")
    assert spec.options.load_ranges()[0] == ["4", "3", "2"]
    assert spec.options.cpu_crit == "98"
    with pytest.raises(ConfigError, match="load_warn"):
        parse_spec({"name": "sys", "type": "system", "load_warn": [4, 3]}, "c")
    with pytest.raises(ConfigError, match="memory_warn"):
        parse_spec({"name": "sys", "type": "system", "memory_warn": "lots"}, "c")
