"""The process table as psutil would report it, read straight from /proc (Linux).

The agent's process checks used psutil: one `process_iter` per check, several files and Python
objects per process. Here one walk reads `/proc/PID/stat` once per process (name, state, times,
start, RSS: everything the checks match and judge on) and reads a command line or an owner only
when a check asks for that process's. The parsing is shared with the agentless poller, which
gets the same files over SSH (agent/agentless/sources.py).

The agent's process checks of one scheduler turn share one walk (`SHARED`): a snapshot is used
again only while it is at most `max_age` seconds old and /proc still lists the same processes, so
a process started or ended since is always seen. Where there is no /proc (not Linux) the checks
fall back to psutil (checks.process).
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Optional

PROC = "/proc"
PF_KTHREAD = 0x00200000  # in /proc/PID/stat's flags: a kernel thread
SHARED_MAX_AGE = 2.0  # seconds: the process checks of one scheduler turn run within this


@dataclass
class RawProc:
    """One process as /proc/PID/stat gives it; command line and owner read on demand."""

    pid: int
    ppid: int
    state: str
    comm: str
    utime: int
    stime: int
    start: int
    rss_pages: int
    cmdline: Optional[list[str]] = None  # None: not read yet (LocalTable reads it on demand)
    user: Optional[str] = None
    kernel: bool = False  # a kernel thread (PF_KTHREAD): no command line to read


def parse_stat(pid: int, text: str) -> Optional[RawProc]:
    """One /proc/PID/stat line; the name sits between the first '(' and the last ')'."""
    try:
        lpar, rpar = text.index("("), text.rindex(")")
        f = text[rpar + 2:].split()
        return RawProc(pid=pid, ppid=int(f[1]), state=f[0], comm=text[lpar + 1:rpar], utime=int(f[11]),
                       stime=int(f[12]), start=int(f[19]), rss_pages=int(f[21]),
                       kernel=bool(int(f[6]) & PF_KTHREAD))
    except (ValueError, IndexError):
        return None


def split_cmdline(data: bytes) -> list[str]:
    """psutil's reading of /proc/PID/cmdline (a rewritten argv may use spaces instead of NULs)."""
    text = data.decode("utf-8", "surrogateescape")
    if not text:
        return []
    sep = "\x00" if text.endswith("\x00") else " "
    if text.endswith(sep):
        text = text[:-1]
    parts = text.split(sep)
    if sep == "\x00" and len(parts) == 1 and " " in text:
        parts = text.split(" ")
    return parts


def process_name(comm: str, cmdline: Optional[list[str]]) -> str:
    """psutil's Process.name(): the comm, completed from argv[0] when the kernel cut it at 15."""
    if len(comm) >= 15 and cmdline:
        extended = cmdline[0].rsplit("/", 1)[-1]
        if extended.startswith(comm):
            return extended
    return comm


def _read(path: str, size: int = 4096) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.read(fd, size)
        while len(data) == size:  # a long command line
            more = os.read(fd, 65536)
            if not more:
                break
            data += more
        return data
    finally:
        os.close(fd)


class Snapshot:
    """One walk of /proc: every process's stat, command lines and owners read on demand."""

    def __init__(self, proc: str = PROC) -> None:
        self.proc = proc
        self.hz = os.sysconf("SC_CLK_TCK")
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.btime = boot_time(proc)
        self.taken = time.monotonic()
        self.pids = frozenset(_pids(proc))
        self.procs: list[RawProc] = []
        for pid in self.pids:
            try:
                p = parse_stat(pid, _read(f"{proc}/{pid}/stat").decode("utf-8", "surrogateescape"))
            except OSError:
                continue  # ended while we looked
            if p is not None:
                self.procs.append(p)
        self.procs.sort(key=lambda p: p.pid)
        self._lock = threading.Lock()
        self._users: dict[int, str] = {}

    def cmdline(self, p: RawProc) -> list[str]:
        if p.cmdline is None and p.kernel:
            # A kernel thread's /proc/PID/cmdline is always empty: not read. (Names of 15
            # characters ask for it, and kworker and friends are most of those.)
            p.cmdline = []
        if p.cmdline is None:
            try:
                p.cmdline = split_cmdline(_read(f"{self.proc}/{p.pid}/cmdline"))
            except OSError:
                p.cmdline = []  # ended, or not ours to read: psutil's empty command line
        return p.cmdline

    def name(self, p: RawProc) -> str:
        return process_name(p.comm, self.cmdline(p) if len(p.comm) >= 15 else None)

    def user(self, p: RawProc) -> Optional[str]:
        """The owner's name by real uid (as psutil's username()); None if the process ended."""
        if p.user is None:
            try:
                status = _read(f"{self.proc}/{p.pid}/status", 8192)
                uid = int(status.split(b"\nUid:", 1)[1].split()[0])
            except (OSError, IndexError, ValueError):
                return None
            with self._lock:
                name = self._users.get(uid)
                if name is None:
                    name = self._users[uid] = _user_name(uid)
            p.user = name
        return p.user

    def create_time(self, p: RawProc) -> float:
        return p.start / self.hz + self.btime

    def still_current(self, max_age: float) -> bool:
        return time.monotonic() - self.taken <= max_age and frozenset(_pids(self.proc)) == self.pids


class LocalTable:
    """Hands out snapshots, sharing one among the callers of `max_age` seconds while /proc lists
    the same processes (max_age 0: a fresh walk every time)."""

    def __init__(self, max_age: float = 0.0, proc: str = PROC) -> None:
        self.max_age = max_age
        self.proc = proc
        self._lock = threading.Lock()
        self._last: Optional[Snapshot] = None

    def snapshot(self, not_this: Optional[Snapshot] = None) -> Snapshot:
        """The shared snapshot if still current, else a new walk (also instead of `not_this`)."""
        with self._lock:
            last = self._last
            if (last is None or last is not_this or self.max_age <= 0
                    or not last.still_current(self.max_age)):
                last = self._last = Snapshot(self.proc)
            return last


def available(proc: str = PROC) -> bool:
    return os.path.exists(f"{proc}/self/stat")


def boot_time(proc: str = PROC) -> float:
    with open(f"{proc}/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime"):
                return float(line.split()[1])
    raise OSError(f"no btime line in {proc}/stat")


def _pids(proc: str) -> list[int]:
    return [int(name) for name in os.listdir(proc) if name.isdigit()]


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)  # as psutil: a uid without a name


# The process checks of the running agent share this one (see SHARED_MAX_AGE).
SHARED = LocalTable(SHARED_MAX_AGE)
