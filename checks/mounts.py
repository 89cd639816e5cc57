"""The mount table, read from /proc/self/mountinfo (no stat calls: reading it never hangs)."""
from __future__ import annotations

import re
from dataclasses import dataclass

MOUNTINFO = "/proc/self/mountinfo"
_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    """One line of the mount table."""

    mountpoint: str
    device: str       # the source: /dev/vda, server:/export, tmpfs
    fstype: str
    options: tuple[str, ...]        # per-mount options (ro/rw of this mount)
    super_options: tuple[str, ...]  # file-system options (ro after errors=remount-ro shows here)
    dev_id: str = ""  # major:minor, the same for every bind mount of one file system
    root: str = "/"   # the directory of the file system mounted here ("/" unless a bind of a subdir)

    @property
    def readonly(self) -> bool:
        return "ro" in self.options or "ro" in self.super_options


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in paths as octal escapes (\040).
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
            mounts.append(Mount(
                mountpoint=_unescape(fields[4]),
                device=_unescape(fields[sep + 2]),
                fstype=fields[sep + 1],
                options=tuple(fields[5].split(",")),
                super_options=tuple(fields[sep + 3].split(",")) if len(fields) > sep + 3 else (),
                dev_id=fields[2],
                root=_unescape(fields[3]),
            ))
        except (ValueError, IndexError):
            continue  # a line we do not understand is skipped, not fatal
    return mounts


_last: tuple[str, str, list[Mount]] = ("", "", [])  # (path, text, parsed): the disk checks of a turn


def read_mounts(path: str = MOUNTINFO) -> list[Mount]:
    """The mount table (parsed again only when it changed); falls back to psutil where there is
    no mountinfo (not Linux)."""
    global _last
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
        last_path, last_text, parsed = _last
        if text != last_text or path != last_path:
            parsed = parse_mountinfo(text)
            _last = (path, text, parsed)
        return list(parsed)
    except FileNotFoundError:
        import psutil

        return [Mount(mountpoint=p.mountpoint, device=p.device, fstype=p.fstype,
                      options=tuple(p.opts.split(",")), super_options=(),
                      dev_id=p.device if p.device.startswith("/") else "")
                for p in psutil.disk_partitions(all=True)]
