"""The data the disk, process and command checks judge, read on the target over SSH.

Only sshd and standard tools are used there: `cat`, `stat -f`, `timeout`, `ps`, `head` (coreutils,
procps). The figures are the ones the local agent reads (statvfs fields, /proc/PID/stat), so the
checks' own judging gives the same results.
"""
from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from shlex import quote as q
from typing import Callable

from agent.agentless.ssh import Session, SshError
from checks.command import CommandOptions
from checks.mounts import Mount, parse_mountinfo
from checks.process import Proc, ProcessOptions, matches
from checks.procrun import Completed
from checks.proctable import RawProc, parse_stat, process_name, split_cmdline
from checks.timed import CallTimeout

IO_TIMEOUT = 30.0
MAX_TABLE = 64 * 1024 * 1024  # process table output (command lines of every process)
CMDLINE_MAX = 65536


@dataclass
class StatVfs:
    """The statvfs fields checks.disk.usage_of reads."""

    f_bsize: int
    f_frsize: int
    f_blocks: int
    f_bfree: int
    f_bavail: int
    f_files: int
    f_ffree: int


class Remote:
    """The target's data sources; `session()` gives the round's live connection or raises SshError."""

    def __init__(self, session: Callable[[], Session]) -> None:
        self.session = session

    # -- disk -------------------------------------------------------------------------------------

    def mount_table(self) -> list[Mount]:
        r = self.session().run("cat /proc/self/mountinfo", timeout=IO_TIMEOUT)
        if r.code != 0:
            raise OSError(errno.EIO, f"无法读取目标主机的 /proc/self/mountinfo: {_tail(r.stderr)}")
        return parse_mountinfo(r.stdout.decode("utf-8", "surrogateescape"))

    def statvfs(self, mountpoint: str, timeout: float) -> StatVfs:
        """`stat -f` under `timeout` on the target: a dead NFS mount is killed there and reported as
        a CallTimeout, as a local statvfs that does not return in time."""
        limit = max(1, int(timeout))
        r = self.session().run(f"timeout -s KILL {limit} stat -f -c '%S %s %b %f %a %c %d' -- {q(mountpoint)}",
                               timeout=limit + IO_TIMEOUT)
        if r.timed_out or r.code in (124, 137):
            raise CallTimeout(f"statvfs:{mountpoint}", timeout)
        fields = r.stdout.split()
        if r.code != 0 or len(fields) != 7:
            raise OSError(errno.EIO, _reason(r.stderr) or f"stat -f 退出码 {r.code}")
        frsize, bsize, blocks, bfree, bavail, files, ffree = (int(x) for x in fields)
        return StatVfs(bsize, frsize, blocks, bfree, bavail, files, ffree)

    # -- processes --------------------------------------------------------------------------------

    def process_table(self, o: ProcessOptions) -> list[Proc]:
        """The processes matching `o`, from /proc/PID/stat and cmdline as psutil reads them."""
        script = ("LC_ALL=C; export LC_ALL; cd /proc || exit 1\n"
                  "echo \"X $$ $(getconf CLK_TCK) $(getconf PAGESIZE) $(awk '/^btime/{print $2}' stat)\"\n"
                  "ps -e -o pid=,ruser:64= | sed 's/^ */U /'\n"
                  f"head -v -c {CMDLINE_MAX} [0-9]*/stat [0-9]*/cmdline 2>/dev/null\n"
                  "exit 0")
        r = self.session().run(script, timeout=IO_TIMEOUT, max_output=MAX_TABLE)
        if r.code != 0:
            raise OSError(errno.EIO, f"无法读取目标主机的进程表: {_tail(r.stderr) or r.code}")
        return select_processes(parse_process_table(r.stdout), o)

    # -- commands ---------------------------------------------------------------------------------

    def run_command(self, o: CommandOptions) -> Completed:
        """Run a Nagios plugin on the target: killed there with its process group at
        command_timeout (coreutils `timeout`), output bounded, the exit code is the status."""
        argv = o.argv()
        env = [f"{k}={v}" for k, v in o.env.items()]
        prefix = ""
        if env or not o.inherit_env:
            prefix = "env " + ("-i " if not o.inherit_env else "") + " ".join(q(e) for e in env) + " "
        if isinstance(argv, str):
            cmd = f"{prefix}sh -c {q(argv)}"
        else:
            cmd = prefix + " ".join(q(a) for a in argv)
        limit = max(1, round(o.command_timeout))
        lines = []
        if o.cwd:
            lines.append(f"cd -- {q(o.cwd)} 2>/dev/null || {{ echo 'xunjian: cwd' >&2; exit 125; }}")
        # Not `exec`: the shell reports a signal death as 128+N (paramiko drops exit-signal); its
        # own "Killed" notice goes to /dev/null, the plugin's stderr to ours.
        lines.append("exec 3>&2 2>/dev/null")
        lines.append(f"(timeout -s KILL {limit} {cmd} </dev/null 2>&3)")
        lines.append("exit $?")
        r = self.session().run("\n".join(lines), timeout=limit + IO_TIMEOUT, max_output=int(o.max_output))
        code = r.code
        timed_out = r.timed_out or (code == 137 and r.elapsed >= limit * 0.98)
        name = argv if isinstance(argv, str) else argv[0]
        if not timed_out and code == 125 and b"xunjian: cwd" in r.stderr:
            raise FileNotFoundError(errno.ENOENT, "no such directory", o.cwd)
        if not timed_out and code in (126, 127) and (b"timeout:" in r.stderr or b"env:" in r.stderr):
            if code == 127:
                raise FileNotFoundError(errno.ENOENT, "not found", name)
            raise PermissionError(errno.EACCES, "permission denied", name)
        if not timed_out and code is not None and 128 < code < 192:
            code = -(code - 128)  # killed by a signal, as subprocess reports it
        if not timed_out and code is None:
            code = -1  # no exit status: the connection or the shell died
        return Completed(returncode=None if timed_out else code, stdout=r.stdout, stderr=r.stderr,
                         timed_out=timed_out, truncated=r.truncated, elapsed=r.elapsed)


@dataclass
class ProcTable:
    shell: int
    hz: int
    page: int
    btime: int
    procs: list[RawProc]


_SECTION = re.compile(rb"(?:^|\n)==> (\d+)/(stat|cmdline) <==\n")


def parse_process_table(out: bytes) -> ProcTable:
    head, _, rest = out.partition(b"\n")
    try:
        _, shell, hz, page, btime = head.decode().split()
        info = (int(shell), int(hz), int(page), int(btime))
    except ValueError:
        raise OSError(errno.EIO, f"进程表格式无法识别: {head[:80]!r}") from None
    users: dict[int, str] = {}
    m = _SECTION.search(rest)
    table_end = m.start() if m else len(rest)
    for line in rest[:table_end].decode("utf-8", "surrogateescape").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "U" and parts[1].isdigit():
            users[int(parts[1])] = parts[2]
    stats: dict[int, bytes] = {}
    cmdlines: dict[int, bytes] = {}
    sections = list(_SECTION.finditer(rest))
    for i, sec in enumerate(sections):
        end = sections[i + 1].start() if i + 1 < len(sections) else len(rest)
        body = rest[sec.end():end]
        (stats if sec.group(2) == b"stat" else cmdlines)[int(sec.group(1))] = body
    procs = []
    for pid, raw in stats.items():
        p = parse_stat(pid, raw.decode("utf-8", "surrogateescape"))
        if p is None:
            continue
        p.cmdline = split_cmdline(cmdlines.get(pid, b""))
        p.user = users.get(pid)
        procs.append(p)
    return ProcTable(*info, procs)


def select_processes(table: ProcTable, o: ProcessOptions) -> list[Proc]:
    pattern = re.compile(o.cmdline) if o.cmdline else None
    ours = {table.shell}  # our shell, the subshell running the script and its tools
    for _ in range(3):
        ours |= {p.pid for p in table.procs if p.ppid in ours}
    found = []
    for p in table.procs:
        if p.pid in ours or p.state == "Z" or p.user is None:
            continue  # ours; zombies; processes born after `ps` ran
        cmdline = " ".join(p.cmdline or [])
        name = process_name(p.comm, p.cmdline)
        if not matches(o, pattern, name, p.user, cmdline):
            continue
        found.append(Proc(p.pid, p.start / table.hz + table.btime, name, p.user, p.rss_pages * table.page,
                          (p.utime + p.stime) / table.hz, cmdline[:200]))
    return found


def _reason(stderr: bytes) -> str:
    """`stat: cannot read file system information for '/x': Permission denied` -> the last part."""
    text = _tail(stderr)
    return text.rsplit(": ", 1)[-1] if text else ""


def _tail(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return lines[-1][:300] if lines else ""


__all__ = ["Remote", "SshError", "StatVfs", "parse_process_table", "select_processes"]
