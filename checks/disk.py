"""Disk space, inodes and read-only remounts, per mount point.

Figures are those of `df -P`: used = blocks - free, percent of the space non-root users can use
(used / (used + avail)), rounded up. Every statvfs runs in a worker thread under `stat_timeout`,
because a dead NFS server blocks it forever; such a mount is UNKNOWN and is not statted again
until its stuck call returns.
"""
from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from checks.base import Check, Outcome, StateStore
from checks.humanize import format_bytes
from checks.model import MAX_DETAIL_BYTES, MAX_METRICS, Metric, Status, worst
from checks.mounts import Mount, read_mounts
from checks.options import Duration, Size, Threshold
from checks.thresholds import as_text, evaluate
from checks.timed import REGISTRY, CallTimeout, HungCallRegistry, StillStuck

# Kernel, container and memory file systems: not disks an operator fills (overridable by naming
# the mount in `mounts` or by `fstypes`).
PSEUDO_FSTYPES = (
    "proc", "sysfs", "tmpfs", "devtmpfs", "devpts", "ramfs", "rootfs", "overlay", "aufs", "shiftfs",
    "squashfs", "iso9660", "udf", "cgroup", "cgroup2", "cgroup*", "nsfs", "autofs", "securityfs",
    "debugfs", "tracefs", "pstore", "bpf", "configfs", "fusectl", "hugetlbfs", "mqueue",
    "binfmt_misc", "efivarfs", "rpc_pipefs", "selinuxfs", "nfsd", "fuse.lxcfs", "fuse.gvfsd-fuse",
    "fuse.portal", "fuse.snapfuse", "zfs_snapshot",
)
_GLOB_CHARS = set("*?[")
_PSEUDO_EXACT = frozenset(t for t in PSEUDO_FSTYPES if not (_GLOB_CHARS & set(t)))
_PSEUDO_GLOBS = [t for t in PSEUDO_FSTYPES if _GLOB_CHARS & set(t)]
_PCT_WARN, _PCT_CRIT, _STAT_TIMEOUT = Threshold("80"), Threshold("90"), Duration(5.0)


@dataclass
class DiskOptions:
    """Options of a disk check."""

    mounts: list[str] = field(default_factory=list)  # mount points or globs; empty: every real disk
    exclude_mounts: list[str] = field(default_factory=list)
    fstypes: list[str] = field(default_factory=list)  # only these types (globs); empty: all real ones
    exclude_fstypes: list[str] = field(default_factory=list)
    warn: Optional[Threshold] = _PCT_WARN  # used percent, Nagios range
    crit: Optional[Threshold] = _PCT_CRIT
    warn_free: Optional[Size] = None  # when set, WARNING also needs free space below this
    crit_free: Optional[Size] = None  # when set, CRITICAL also needs free space below this
    inode_warn: Optional[Threshold] = _PCT_WARN
    inode_crit: Optional[Threshold] = _PCT_CRIT
    expect_rw: list[str] = field(default_factory=list)  # globs: ro is CRITICAL even at first sight
    allow_ro: list[str] = field(default_factory=list)   # globs: a remount to ro is not an alert
    stat_timeout: Duration = _STAT_TIMEOUT

    def validate(self) -> None:
        if self.stat_timeout <= 0:
            raise ValueError("stat_timeout must be positive")
        for name in ("warn_free", "crit_free"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass
class Usage:
    """Space or inodes of one file system, as df shows them."""

    total: int
    used: int
    free: int  # available to non-root users, as df's "Available"
    percent: int
    inodes_total: int
    inodes_used: int
    inode_percent: Optional[int]


def _ceil_percent(part: int, whole: int) -> int:
    return -(-part * 100 // whole) if whole > 0 else 0


def usage_of(st: Any) -> Usage:
    """df's arithmetic on a statvfs result."""
    frsize = st.f_frsize or st.f_bsize
    total = st.f_blocks * frsize
    avail = st.f_bavail * frsize
    used = total - st.f_bfree * frsize
    inodes_used = st.f_files - st.f_ffree
    return Usage(total=total, used=used, free=avail, percent=_ceil_percent(used, used + avail),
                 inodes_total=st.f_files, inodes_used=inodes_used,
                 inode_percent=_ceil_percent(inodes_used, st.f_files) if st.f_files > 0 else None)


def space_status(percent: float, free: int, opts: DiskOptions) -> Status:
    """A level fires when every dimension configured for it agrees: percent and, if set, free bytes.

    So a 10 TB disk at 91% with 400 GB free and crit_free 100GB is WARNING, not CRITICAL.
    """
    for level, pct_range, free_min in ((Status.CRITICAL, opts.crit, opts.crit_free),
                                       (Status.WARNING, opts.warn, opts.warn_free)):
        votes = []
        if pct_range is not None:
            votes.append(evaluate(percent, crit=pct_range) is Status.CRITICAL)
        if free_min is not None:
            votes.append(free < free_min)
        if votes and all(votes):
            return level
    return Status.OK


def _is_glob(pattern: str) -> bool:
    return bool(_GLOB_CHARS & set(pattern))


def _norm(path: str) -> str:
    return path.rstrip("/") or "/"


def _matches(value: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _is_pseudo(fstype: str) -> bool:
    return fstype in _PSEUDO_EXACT or _matches(fstype, _PSEUDO_GLOBS)


def select_mounts(table: list[Mount], opts: DiskOptions) -> tuple[list[Mount], list[str]]:
    """The mounts to check (explicit ones first) and the explicitly named mount points missing."""
    visible: dict[str, Mount] = {}
    for m in table:  # a later mount on the same point hides the earlier one
        visible.pop(m.mountpoint, None)
        visible[m.mountpoint] = m
    explicit = [_norm(p) for p in opts.mounts if not _is_glob(p)]
    globs = [p for p in opts.mounts if _is_glob(p)]
    chosen: list[Mount] = []
    for m in visible.values():
        named = m.mountpoint in explicit
        if opts.mounts and not named and not _matches(m.mountpoint, globs):
            continue
        if _matches(m.mountpoint, opts.exclude_mounts) or _matches(m.fstype, opts.exclude_fstypes):
            continue
        if opts.fstypes and not _matches(m.fstype, opts.fstypes):
            continue
        if not named and not opts.fstypes and _is_pseudo(m.fstype):
            continue
        chosen.append(m)
    # A file system bind-mounted several times is counted once: named mounts are kept, then the
    # mount of its root directory, then the shortest path.
    chosen.sort(key=lambda m: (m.mountpoint not in explicit, m.root != "/", len(m.mountpoint)))
    seen: set[str] = set()
    selected = []
    for m in chosen:
        if m.dev_id and m.dev_id in seen and m.mountpoint not in explicit:
            continue
        seen.add(m.dev_id)
        selected.append(m)
    missing = [p for p in dict.fromkeys(explicit) if p not in visible]
    return selected, missing


@dataclass
class MountReport:
    """The verdict on one mount point."""

    mount: Mount
    status: Status
    text: str
    usage: Optional[Usage] = None
    space: Status = Status.OK
    inode: Status = Status.OK
    ro_alert: bool = False

    def sort_key(self) -> tuple[int, int]:
        return (-self.status.severity, -(self.usage.percent if self.usage else 0))


class DiskCheck(Check):
    type = "disk"
    Options = DiskOptions

    def __init__(self, options: DiskOptions, *, state: Optional[StateStore] = None,
                 statvfs: Callable[[str], Any] = os.statvfs,
                 mount_table: Callable[[], list[Mount]] = read_mounts,
                 registry: HungCallRegistry = REGISTRY) -> None:
        super().__init__(options, state=state)
        self._statvfs = statvfs
        self._mount_table = mount_table
        self._registry = registry

    def run(self) -> Outcome:
        opts: DiskOptions = self.options
        selected, missing = select_mounts(self._mount_table(), opts)
        explicit = {_norm(p) for p in opts.mounts if not _is_glob(p)}
        stats = self._registry.call_many(
            {f"statvfs:{m.mountpoint}": (self._statvfs, (m.mountpoint,)) for m in selected},
            opts.stat_timeout)
        saved = self.state.load()
        rw_seen = set(saved.get("rw_seen") or [])
        reports = []
        for m in selected:
            report = self._judge(m, stats[f"statvfs:{m.mountpoint}"], rw_seen)
            if report is None or (report.usage is not None and report.usage.total == 0
                                  and m.mountpoint not in explicit):
                continue  # df skips file systems without blocks (pseudo ones we do not know)
            reports.append(report)
        now_rw = sorted(r.mount.mountpoint for r in reports if not r.mount.readonly)
        # Keep "was rw" for mounts that stay present; a mount that went away is forgotten.
        present = {m.mountpoint for m in selected}
        keep = sorted({p for p in rw_seen if p in present} | set(now_rw))
        if keep != sorted(rw_seen):
            self.state.save({**saved, "rw_seen": keep})
        return self._outcome(reports, missing)

    def _judge(self, m: Mount, stat: Any, rw_seen: set[str]) -> Optional[MountReport]:
        opts: DiskOptions = self.options
        mp = m.mountpoint
        if isinstance(stat, CallTimeout):
            return MountReport(m, Status.UNKNOWN, f"挂载点 {mp} 无响应 ({opts.stat_timeout:g} 秒超时)")
        if isinstance(stat, StillStuck):
            return MountReport(m, Status.UNKNOWN, f"挂载点 {mp} 无响应 (已阻塞 {stat.blocked_for:.0f} 秒)")
        if isinstance(stat, OSError):
            return MountReport(m, Status.UNKNOWN, f"挂载点 {mp} 无法读取: {stat.strerror or stat}")
        if isinstance(stat, BaseException):
            return MountReport(m, Status.UNKNOWN, f"挂载点 {mp} 无法读取: {type(stat).__name__}: {stat}")
        u = usage_of(stat)
        ro_alert = (m.readonly and not _matches(mp, opts.allow_ro)
                    and (mp in rw_seen or _matches(mp, opts.expect_rw)))
        # A mount that is read-only by design cannot fill up: its space is shown, not judged.
        space = Status.OK if m.readonly and not ro_alert else space_status(u.percent, u.free, opts)
        inode = Status.OK
        if u.inode_percent is not None and not (m.readonly and not ro_alert):
            inode = evaluate(u.inode_percent, opts.inode_warn, opts.inode_crit)
        status = worst([space, inode, Status.CRITICAL if ro_alert else Status.OK])
        parts = [f"{mp} 已用 {u.percent}%"]
        if space is not Status.OK:
            parts[0] += f" (剩余 {format_bytes(u.free)})"
        if inode is not Status.OK:
            parts.append(f"inode 已用 {u.inode_percent}%")
        if ro_alert:
            parts.insert(0, f"{mp} 已变为只读")
        return MountReport(m, status, ", ".join(parts), u, space, inode, ro_alert)

    def _outcome(self, reports: list[MountReport], missing: list[str]) -> Outcome:
        reports.sort(key=MountReport.sort_key)
        texts = [f"挂载点 {p} 未挂载" for p in missing] + [r.text for r in reports]
        statuses = [Status.CRITICAL] * len(missing) + [r.status for r in reports]
        if not texts:
            return Outcome(Status.UNKNOWN, "没有匹配的挂载点 (检查 mounts / fstypes 配置)")
        metrics = self._metrics(reports)
        details: dict[str, Any] = {"mounts": [], "missing": missing}
        size = len(json.dumps(details)) + 64
        for r in reports:
            entry = _detail(r)
            size += len(json.dumps(entry, ensure_ascii=False)) + 2
            if size > MAX_DETAIL_BYTES:
                details["truncated"] = len(reports) - len(details["mounts"])
                break
            details["mounts"].append(entry)
        return Outcome(worst(statuses), "; ".join(texts), metrics, details)

    def _metrics(self, reports: list[MountReport]) -> list[Metric]:
        opts: DiskOptions = self.options
        measured = [r for r in reports if r.usage is not None]
        metrics: list[Metric] = []
        for r in measured:
            metrics.append(Metric(f"used_percent:{r.mount.mountpoint}", float(r.usage.percent), "%",
                                  as_text(opts.warn), as_text(opts.crit), 0.0, 100.0))
        for r in measured:
            u = r.usage
            metrics.append(Metric(f"free_bytes:{r.mount.mountpoint}", float(u.free), "B",
                                  _below(opts.warn_free), _below(opts.crit_free), 0.0, float(u.total)))
            if u.inode_percent is not None:
                metrics.append(Metric(f"inode_percent:{r.mount.mountpoint}", float(u.inode_percent), "%",
                                      as_text(opts.inode_warn), as_text(opts.inode_crit), 0.0, 100.0))
            metrics.append(Metric(f"size_bytes:{r.mount.mountpoint}", float(u.total), "B", min=0.0))
        return metrics[:MAX_METRICS]


def _below(limit: Optional[int]) -> Optional[str]:
    return None if limit is None else f"{limit}:"  # Nagios range: alert below the limit


def _detail(r: MountReport) -> dict[str, Any]:
    m = r.mount
    entry: dict[str, Any] = {"mount": m.mountpoint, "device": m.device, "fstype": m.fstype,
                             "ro": m.readonly, "status": r.status.name}
    if r.usage is None:
        entry["error"] = r.text
    else:
        u = r.usage
        entry.update(total=u.total, used=u.used, free=u.free, used_percent=u.percent,
                     inodes_total=u.inodes_total, inodes_used=u.inodes_used,
                     inode_percent=u.inode_percent)
    if r.ro_alert:
        entry["ro_alert"] = True
    return entry
