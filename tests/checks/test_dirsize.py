"""dirsize: real trees against `du -sb`, bounds, growth from state, a hanging walk."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from checks.base import StateStore
from checks.dirsize import DirSizeCheck, DirSizeOptions, Walk
from checks.model import Status
from checks.options import ConfigError, build
from checks.spec import parse_spec
from checks.timed import HungCallRegistry

MiB = 1024 * 1024


def check(state: StateStore | None = None, **kw: object) -> DirSizeCheck:
    return DirSizeCheck(build(DirSizeOptions, kw, "test"), state=state)


def du_sb(path: Path | str, *flags: str) -> int:
    out = subprocess.run(["du", "-sb", *flags, str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "one.log").write_bytes(b"x" * 1000)
    (root / "a" / "b" / "two.log").write_bytes(b"y" * 5000)
    (root / "a" / "b" / "empty").touch()
    os.link(root / "a" / "one.log", root / "hardlink.log")  # counted once, as du does
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"z" * MiB)
    (root / "link").symlink_to(outside)  # not followed
    (root / "dirlink").symlink_to(tmp_path)  # not followed either (no loop)
    return root


def test_agrees_with_du(tree: Path) -> None:
    out = check(path=str(tree)).run()
    assert out.status is Status.OK
    assert out.details["size"] == du_sb(tree)
    assert out.details["files"] == 5  # one.log, two.log, empty, link, dirlink (hard link once)
    assert out.summary.startswith(f"目录 {tree} ")
    assert [m.name for m in out.metrics] == ["size_bytes", "files"]


def test_agrees_with_du_on_a_real_system_tree() -> None:
    path = "/usr/share/doc"
    out = check(path=path).run()
    assert out.details["complete"]
    assert out.details["size"] == du_sb(path)


def test_size_thresholds(tree: Path) -> None:
    out = check(path=str(tree), warn="1KB", crit="1MiB").run()
    assert out.status is Status.WARNING
    assert "(超过 1000 B)" in out.summary
    assert out.metrics[0].warn == "1000" and out.metrics[0].crit == str(MiB)


def test_excludes(tree: Path) -> None:
    full = check(path=str(tree)).run().details["size"]
    out = check(path=str(tree), exclude=["b"]).run()
    assert out.details["size"] < full - 5000


def test_max_entries_gives_a_lower_bound(tree: Path) -> None:
    out = check(path=str(tree), max_entries=2).run()
    assert out.status is Status.UNKNOWN
    assert "以上 (超过 2 个条目, 结果不完整)" in out.summary
    out = check(path=str(tree), max_entries=2, crit="1").run()  # already over: still an alert
    assert out.status is Status.CRITICAL


def test_walk_timeout_gives_a_lower_bound() -> None:
    out = check(path="/usr", walk_timeout="1ms").run()
    assert out.status is Status.UNKNOWN
    assert out.details["stopped_by"] == "timeout"
    assert "0.001 秒内未统计完" in out.summary


def test_growth_from_samples_in_state(tree: Path, tmp_path: Path) -> None:
    store = StateStore(tmp_path / "dirsize.json")
    size = du_sb(tree)
    store.save({"samples": [[time.time() - 1800, size - 50 * MiB]]})  # half an hour ago
    out = check(store, path=str(tree), growth_warn="80MiB", growth_crit="1GiB").run()
    growth = next(m for m in out.metrics if m.name == "growth_bytes_per_hour")
    assert growth.value == pytest.approx(100 * MiB, rel=0.01)
    assert out.status is Status.WARNING
    assert out.summary.startswith("增长 100.0 MB/小时")
    samples = store.load()["samples"]
    assert len(samples) == 2 and samples[-1][1] == size


def test_first_run_has_no_growth_and_keeps_a_sample(tree: Path, tmp_path: Path) -> None:
    store = StateStore(tmp_path / "dirsize.json")
    c = check(store, path=str(tree))
    out = c.run()
    assert "growth_bytes_per_hour" not in [m.name for m in out.metrics]
    out = c.run()  # a second later: too short a span to say anything per hour
    assert "growth_bytes_per_hour" not in [m.name for m in out.metrics]
    assert len(store.load()["samples"]) == 1


def test_missing_and_not_a_directory(tmp_path: Path) -> None:
    out = check(path=str(tmp_path / "nope")).run()
    assert (out.status, out.summary) == (Status.CRITICAL, f"目录 {tmp_path / 'nope'} 不存在")
    f = tmp_path / "file"
    f.touch()
    assert check(path=str(f)).run().status is Status.UNKNOWN


def test_other_file_system_not_entered(tree: Path) -> None:
    shm = Path("/dev/shm") / f"xj-dirsize-{os.getpid()}"
    shm.mkdir()
    (shm / "big").write_bytes(b"q" * MiB)
    mnt = tree / "mnt"
    mnt.mkdir()
    try:
        r = subprocess.run(["mount", "--bind", str(shm), str(mnt)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot bind-mount here: {r.stderr!r}")
        small = check(path=str(tree)).run().details["size"]
        assert small == du_sb(tree, "-x") and small < MiB
        big = check(path=str(tree), one_file_system=False).run().details["size"]
        assert big == du_sb(tree) and big > MiB
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        (shm / "big").unlink()
        shm.rmdir()


def test_hanging_walk_is_unknown_and_not_restarted(tmp_path: Path) -> None:
    release = threading.Event()
    calls = []

    def walker(*args: object) -> Walk:
        calls.append(args)
        release.wait()
        return Walk(size=1, files=1)

    registry = HungCallRegistry()
    c = DirSizeCheck(build(DirSizeOptions, {"path": str(tmp_path), "walk_timeout": "10ms"}, "t"),
                     registry=registry, walker=walker)
    try:
        out = c.run()
        assert out.status is Status.UNKNOWN
        assert out.summary == f"目录 {tmp_path} 无响应 (2.01 秒超时)"
        out = c.run()
        assert out.summary.startswith(f"目录 {tmp_path} 无响应 (已阻塞 ")
        assert len(calls) == 1
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while registry.stuck_keys() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert c.run().status is Status.OK


def test_options() -> None:
    spec = parse_spec({"name": "voucher-logs", "type": "dirsize", "path": "/var/log",
                       "crit": "20GiB", "growth_warn": "1GB"}, "c")
    assert spec.options.crit == 20 * 1024**3 and spec.options.growth_warn == 10**9
    with pytest.raises(ConfigError, match="path"):
        parse_spec({"name": "d", "type": "dirsize"}, "c")
    with pytest.raises(ConfigError, match="max_entries"):
        parse_spec({"name": "d", "type": "dirsize", "path": "/", "max_entries": 0}, "c")
