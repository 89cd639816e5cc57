"""disk: real mounts of this machine against `df -P`, loop-mounted ext4 images, a hanging statvfs."""
from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from checks.base import StateStore
from checks.disk import DiskCheck, DiskOptions, select_mounts, space_status
from checks.model import Status
from checks.mounts import Mount, parse_mountinfo, read_mounts
from checks.options import ConfigError, build
from checks.spec import parse_spec
from checks.timed import HungCallRegistry

GB = 1024**3


def opts(**kw: object) -> DiskOptions:
    return build(DiskOptions, kw, "test")


def df_percent(mountpoint: str) -> tuple[int, int, int]:
    """(capacity %, 1K blocks, available 1K blocks) as df -P prints them."""
    out = subprocess.run(["df", "-P", mountpoint], capture_output=True, text=True, check=True).stdout
    fields = out.splitlines()[1].split(None, 5)  # the mount point (last) may hold spaces
    return int(fields[4].rstrip("%")), int(fields[1]), int(fields[3])


def test_spec_from_config_example() -> None:
    spec = parse_spec({"name": "root-disk", "type": "disk", "system": "os", "interval": "60s",
                       "mounts": ["/"]}, "checks[0]")
    assert spec.options.mounts == ["/"]
    assert spec.options.stat_timeout == 5.0
    with pytest.raises(ConfigError, match="crit_free"):
        parse_spec({"name": "d", "type": "disk", "crit_fre": "1GB"}, "checks[0]")
    with pytest.raises(ConfigError, match="warn"):
        parse_spec({"name": "d", "type": "disk", "warn": "80%"}, "checks[0]")


def test_root_agrees_with_df() -> None:
    out = DiskCheck(opts(mounts=["/"])).run()
    pct, blocks, _ = df_percent("/")
    assert out.status in (Status.OK, Status.WARNING, Status.CRITICAL)
    m = out.details["mounts"][0]
    assert m["mount"] == "/"
    assert abs(m["used_percent"] - pct) <= 1
    assert m["total"] == blocks * 1024
    assert out.summary.startswith("/ 已用 ")
    names = [x.name for x in out.metrics]
    assert names == ["used_percent:/", "free_bytes:/", "inode_percent:/", "size_bytes:/"]


def test_every_real_mount_agrees_with_df() -> None:
    # fstypes=* also takes the pseudo file systems (devtmpfs, tmpfs) that have a size.
    out = DiskCheck(opts(fstypes=["*"])).run()
    compared = 0
    for m in out.details["mounts"]:
        if "used_percent" not in m:
            continue
        pct, blocks, _ = df_percent(m["mount"])
        assert abs(m["used_percent"] - pct) <= 1, m
        assert m["total"] == blocks * 1024, m
        compared += 1
    assert compared >= 1


def test_default_excludes_pseudo_and_explicit_name_includes_it() -> None:
    table = read_mounts()
    chosen, _ = select_mounts(table, opts())
    assert all(m.fstype not in ("proc", "sysfs", "tmpfs", "devtmpfs", "cgroup", "cgroup2")
               for m in chosen)
    assert "/" in [m.mountpoint for m in chosen]
    shm = [m for m in table if m.mountpoint == "/dev/shm"]
    if shm:
        chosen, missing = select_mounts(table, opts(mounts=["/dev/shm"]))
        assert [m.mountpoint for m in chosen] == ["/dev/shm"] and not missing


def test_missing_explicit_mount_is_critical() -> None:
    out = DiskCheck(opts(mounts=["/", "/no/such/mount"])).run()
    assert out.status is Status.CRITICAL
    assert out.summary.startswith("挂载点 /no/such/mount 未挂载")
    assert out.details["missing"] == ["/no/such/mount"]


def test_nothing_matched_is_unknown() -> None:
    out = DiskCheck(opts(mounts=["/no/such/*"])).run()
    assert out.status is Status.UNKNOWN


def test_mountinfo_parsing_escapes_and_ro_superblock() -> None:
    text = ("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
            "42 27 7:0 / /mnt/my\\040disk rw,relatime shared:5 - ext4 /dev/loop0 ro,errors=remount-ro\n"
            "43 27 7:0 /sub /srv/bind rw,relatime - ext4 /dev/loop0 ro\n"
            "garbage line\n")
    table = parse_mountinfo(text)
    assert [m.mountpoint for m in table] == ["/", "/mnt/my disk", "/srv/bind"]
    assert not table[0].readonly
    assert table[1].readonly  # per-mount rw, but the file system itself went ro after errors
    chosen, _ = select_mounts(table, opts())
    assert [m.mountpoint for m in chosen] == ["/", "/mnt/my disk"]  # the bind mount counted once
    chosen, _ = select_mounts(table, opts(mounts=["/srv/bind", "/mnt/*"]))
    assert [m.mountpoint for m in chosen] == ["/srv/bind"]  # the named one is kept, not the glob's


def test_space_status_needs_percent_and_free_to_agree() -> None:
    o = opts(crit_free="100GiB")
    assert space_status(91, 400 * GB, o) is Status.WARNING  # big disk, plenty left: not critical
    assert space_status(91, 50 * GB, o) is Status.CRITICAL
    assert space_status(85, 50 * GB, o) is Status.WARNING
    assert space_status(70, 1 * GB, o) is Status.OK
    o = opts(warn_free="500GiB", crit_free="100GiB")
    assert space_status(91, 600 * GB, o) is Status.OK
    assert space_status(91, 400 * GB, o) is Status.WARNING
    o = opts(warn=None, crit=None, crit_free="1GiB")
    assert space_status(10, GB // 2, o) is Status.CRITICAL  # free bytes alone
    assert space_status(99, 2 * GB, o) is Status.OK
    assert space_status(99, 0, opts(warn=None, crit=None)) is Status.OK


# --- real loop-mounted ext4 images -----------------------------------------------------------

def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


@pytest.fixture
def loopfs(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB ext4 image with 128 inodes, loop-mounted on a fresh directory."""
    image = tmp_path / "fs.img"
    mnt = Path("/tmp") / f"xj-disk-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(32 * 1024 * 1024)
    try:
        _run("mkfs.ext4", "-q", "-F", "-N", "128", "-m", "5", str(image))
        _run("mount", "-o", "loop", str(image), str(mnt))
    except (OSError, subprocess.CalledProcessError) as e:
        mnt.rmdir()
        pytest.skip(f"cannot loop-mount here: {e}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        mnt.rmdir()


def test_loop_fs_full_agrees_with_df_and_is_critical(loopfs: Path) -> None:
    st = os.statvfs(loopfs)
    with open(loopfs / "fill", "wb") as f:
        f.write(b"\0" * (st.f_bavail * st.f_frsize * 95 // 100))
        os.fsync(f.fileno())
    check = DiskCheck(opts(mounts=[str(loopfs)]))
    out = check.run()
    pct, blocks, avail = df_percent(str(loopfs))
    m = out.details["mounts"][0]
    assert m["used_percent"] == pct and m["total"] == blocks * 1024 and m["free"] == avail * 1024
    assert pct > 90
    assert out.status is Status.CRITICAL
    assert out.summary.startswith(f"{loopfs} 已用 {pct}% (剩余 ")
    # With a free-space floor the same mount is WARNING while enough bytes remain.
    out = DiskCheck(opts(mounts=[str(loopfs)], crit_free="1MiB")).run()
    assert out.status is Status.WARNING


def test_loop_fs_inodes(loopfs: Path) -> None:
    for i in range(110):
        (loopfs / f"f{i}").touch()
    out = DiskCheck(opts(mounts=[str(loopfs)])).run()
    m = out.details["mounts"][0]
    assert m["inode_percent"] > 90
    assert out.status is Status.CRITICAL
    assert "inode 已用" in out.summary
    out = DiskCheck(opts(mounts=[str(loopfs)], inode_warn="99", inode_crit="100")).run()
    assert out.status is Status.OK


def test_remount_readonly_is_critical(loopfs: Path, tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.json")
    check = DiskCheck(opts(mounts=[str(loopfs)]), state=state)
    assert check.run().status is Status.OK  # seen rw
    _run("mount", "-o", "remount,ro", str(loopfs))
    out = check.run()
    assert out.status is Status.CRITICAL
    assert out.summary.startswith(f"{loopfs} 已变为只读")
    assert out.details["mounts"][0]["ro"] is True
    # A fresh check that never saw it rw leaves a read-only mount alone, unless told it must be rw.
    fresh = DiskCheck(opts(mounts=[str(loopfs)]), state=StateStore(tmp_path / "other.json"))
    assert fresh.run().status is Status.OK
    strict = DiskCheck(opts(mounts=[str(loopfs)], expect_rw=["/tmp/xj-disk-*"]))
    assert strict.run().status is Status.CRITICAL
    allowed = DiskCheck(opts(mounts=[str(loopfs)], allow_ro=[str(loopfs)]),
                        state=StateStore(tmp_path / "state.json"))
    assert allowed.run().status is Status.OK
    _run("mount", "-o", "remount,rw", str(loopfs))
    assert check.run().status is Status.OK


def test_bind_mount_counted_once(loopfs: Path) -> None:
    (loopfs / "sub").mkdir()
    bind = Path(f"{loopfs}-bind")
    bind.mkdir()
    try:
        _run("mount", "--bind", str(loopfs / "sub"), str(bind))
        out = DiskCheck(opts(mounts=["/tmp/xj-disk-*"])).run()
        mounts = [m["mount"] for m in out.details["mounts"]]
        assert str(loopfs) in mounts and str(bind) not in mounts
        out = DiskCheck(opts(mounts=[str(bind)])).run()
        assert [m["mount"] for m in out.details["mounts"]] == [str(bind)]
    finally:
        subprocess.run(["umount", str(bind)], capture_output=True)
        bind.rmdir()


# --- a statvfs that never returns ------------------------------------------------------------

def test_hanging_statvfs_is_unknown_and_not_restarted() -> None:
    release = threading.Event()
    calls: list[str] = []

    def statvfs(path: str) -> os.statvfs_result:
        calls.append(path)
        if path == "/mnt/nfs":
            release.wait()  # a dead NFS server: blocks until the test lets go
        return os.statvfs("/")

    table = parse_mountinfo("27 1 254:0 / / rw - ext4 /dev/vda rw\n"
                            "50 27 0:99 / /mnt/nfs rw - nfs4 srv:/export rw\n")
    registry = HungCallRegistry()
    check = DiskCheck(opts(stat_timeout="200ms"), statvfs=statvfs, mount_table=lambda: table,
                      registry=registry)
    try:
        out = check.run()
        assert out.status is Status.UNKNOWN
        assert "挂载点 /mnt/nfs 无响应 (0.2 秒超时)" in out.summary
        assert out.summary.startswith("挂载点 /mnt/nfs")  # worst first (UNKNOWN above OK)
        assert "/ 已用 " in out.summary
        assert registry.stuck_keys() == ["statvfs:/mnt/nfs"]
        out = check.run()  # still stuck: reported, and no second thread is started for it
        assert "挂载点 /mnt/nfs 无响应 (已阻塞" in out.summary
        assert calls.count("/mnt/nfs") == 1
        assert calls.count("/") == 2
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while registry.stuck_keys() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert registry.stuck_keys() == []
    out = check.run()  # the mount answers again
    assert out.status is Status.OK
    assert calls.count("/mnt/nfs") == 2


def test_statvfs_error_is_unknown() -> None:
    def statvfs(path: str) -> os.statvfs_result:
        raise PermissionError(13, "Permission denied")

    table = [Mount("/srv", "/dev/x", "ext4", ("rw",), ("rw",), "8:1")]
    out = DiskCheck(opts(), statvfs=statvfs, mount_table=lambda: table).run()
    assert out.status is Status.UNKNOWN
    assert out.summary == "挂载点 /srv 无法读取: Permission denied"


def test_mount_point_with_a_space_is_read_from_mountinfo(loopfs: Path) -> None:
    spaced = Path(f"{loopfs} 凭证 库")
    spaced.mkdir()
    try:
        _run("mount", "--bind", str(loopfs), str(spaced))
        out = DiskCheck(opts(mounts=[str(spaced)])).run()
        assert out.status is Status.OK, out.summary
        m = out.details["mounts"][0]
        assert m["mount"] == str(spaced)
        assert m["used_percent"] == df_percent(str(spaced))[0]
        assert f"used_percent:{spaced}" in [x.name for x in out.metrics]
    finally:
        subprocess.run(["umount", str(spaced)], capture_output=True)
        spaced.rmdir()


def test_mount_table_read_again_sees_a_change(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text("27 1 254:0 / / rw - ext4 /dev/vda rw\n", encoding="utf-8")
    first = read_mounts(str(info))
    assert [m.mountpoint for m in first] == ["/"]
    first.clear()  # what a caller does with its list never reaches the next caller
    assert [m.mountpoint for m in read_mounts(str(info))] == ["/"]
    info.write_text("27 1 254:0 / / rw - ext4 /dev/vda rw\n50 27 0:99 / /data rw - xfs /dev/vdb rw\n",
                    encoding="utf-8")
    assert [m.mountpoint for m in read_mounts(str(info))] == ["/", "/data"]
