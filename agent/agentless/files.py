"""checks.logtail's file access over SSH: glob and stat from directory listings, reads streamed.

One `find -L DIR -maxdepth 1 -printf` per directory and check run gives names, device, inode, size,
mtime and type (GNU findutils); globbing is done here with Python's glob rules on those listings.
A read opens the file on the target, verifies it is still the inode the tailer expects, and
streams the wanted byte range with `tail -c +N | head -c M` (tail seeks, nothing before is sent).
"""
from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat as statmod
import threading
from dataclasses import dataclass
from shlex import quote as _q
from typing import Callable, Optional

from agent.agentless.ssh import Session, ShellStream

IO_TIMEOUT = 30.0
MAX_LISTING = 64 * 1024 * 1024
_MAGIC = re.compile(r"[*?\[]")
_TYPES = {"f": statmod.S_IFREG, "d": statmod.S_IFDIR, "l": statmod.S_IFLNK, "N": 0, "L": 0,
          "p": statmod.S_IFIFO, "s": statmod.S_IFSOCK, "b": statmod.S_IFBLK, "c": statmod.S_IFCHR}


@dataclass(frozen=True)
class RemoteStat:
    st_dev: int
    st_ino: int
    st_size: int
    st_mtime: float
    st_mode: int


def _magic(text: str) -> bool:
    return _MAGIC.search(text) is not None


class RemoteFiles:
    """FileAccess over SSH. Listings are cached until `clear()` (the poller clears before each run)."""

    def __init__(self, session: Callable[[], Session]) -> None:
        self.session = session
        self._lock = threading.Lock()
        self._dirs: dict[str, Optional[dict[str, Optional[RemoteStat]]]] = {}
        self._home: Optional[str] = None

    def clear(self) -> None:
        with self._lock:
            self._dirs.clear()

    # -- FileAccess -------------------------------------------------------------------------------

    def glob(self, pattern: str) -> list[str]:
        pattern = self._expanduser(pattern)
        if not pattern.startswith("/"):
            return []  # relative paths mean nothing on a remote host (config validation says so)
        return self._glob(pattern)

    def stat(self, path: str) -> RemoteStat:
        path = os.path.normpath(path)
        if path == "/":
            return RemoteStat(0, 0, 0, 0.0, statmod.S_IFDIR)
        parent, name = os.path.split(path)
        listing = self._listing(parent)
        st = listing.get(name) if listing is not None else None
        if st is None or st.st_mode == 0:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return st

    def open(self, path: str) -> RemoteFile:
        return RemoteFile(self, path, self.stat(path))

    # -- globbing (Python's rules: hidden names only for patterns starting with a dot) -------------

    def _glob(self, pattern: str) -> list[str]:
        if not _magic(pattern):
            return [pattern] if self._lexists(pattern) else []
        dirname, base = os.path.split(pattern)
        dirs = self._glob(dirname) if _magic(dirname) and dirname != pattern else [dirname]
        out: list[str] = []
        for d in dirs:
            if base == "**":
                out.append(os.path.join(d, ""))
                out.extend(self._walk(d))
            elif _magic(base):
                listing = self._listing(d) or {}
                hidden_ok = base.startswith(".")
                out.extend(os.path.join(d, n) for n in listing
                           if fnmatch.fnmatchcase(n, base) and (hidden_ok or not n.startswith(".")))
            elif self._lexists(os.path.join(d, base)):
                out.append(os.path.join(d, base))
        return out

    def _walk(self, top: str) -> list[str]:
        out = []
        for name, st in sorted((self._listing(top) or {}).items()):
            if name.startswith("."):
                continue
            path = os.path.join(top, name)
            out.append(path)
            if st is not None and statmod.S_ISDIR(st.st_mode):
                out.extend(self._walk(path))
        return out

    def _lexists(self, path: str) -> bool:
        path = path.rstrip("/") or "/"
        if path == "/":
            return True
        parent, name = os.path.split(path)
        listing = self._listing(parent)
        return listing is not None and name in listing

    def _listing(self, directory: str) -> Optional[dict[str, Optional[RemoteStat]]]:
        directory = os.path.normpath(directory) if directory else "/"
        with self._lock:
            if directory in self._dirs:
                return self._dirs[directory]
        r = self.session().run(f"find -L {_q(directory)} -mindepth 1 -maxdepth 1 "
                               "-printf '%D %i %s %T@ %Y %f\\0' 2>/dev/null; exit 0",
                               timeout=IO_TIMEOUT, max_output=MAX_LISTING)
        if r.timed_out:
            raise OSError(errno.ETIMEDOUT, f"列出目录 {directory} 超时")
        listing: dict[str, Optional[RemoteStat]] = {}
        for rec in r.stdout.split(b"\0"):
            parts = rec.decode("utf-8", "surrogateescape").split(" ", 5)
            if len(parts) != 6:
                continue
            dev, ino, size, mtime, kind, name = parts
            try:
                listing[name] = RemoteStat(int(dev), int(ino), int(size), float(mtime), _TYPES.get(kind, 0))
            except ValueError:
                continue
        with self._lock:
            self._dirs[directory] = listing
        return listing

    def _expanduser(self, pattern: str) -> str:
        if not pattern.startswith("~"):
            return pattern
        if self._home is None:
            r = self.session().run('printf %s "$HOME"', timeout=IO_TIMEOUT)
            self._home = r.stdout.decode("utf-8", "surrogateescape") or "/"
        head, sep, rest = pattern.partition("/")
        return (self._home if head == "~" else head) + sep + rest


class RemoteFile:
    """An open remote file: its stat from the listing, reads streamed from the target."""

    def __init__(self, files: RemoteFiles, path: str, st: RemoteStat) -> None:
        self.files = files
        self.path = path
        self.st = st
        self._stream: Optional[ShellStream] = None
        self._buf = bytearray()
        self._buf_pos = 0
        self._end = 0

    def stat(self) -> RemoteStat:
        return self.st

    def will_read(self, start: int, end: int) -> None:
        self._stop()
        if end <= start:
            return
        st, p = self.st, _q(self.path)
        script = (f"[ -e {p} ] || exit 3\n"
                  f"exec 3< {p} || exit 4\n"
                  f"[ \"$(stat -L -c '%d %i' /dev/fd/3)\" = '{st.st_dev} {st.st_ino}' ] || exit 5\n"
                  f"tail -c +{start + 1} <&3 | head -c {end - start}")
        self._stream = self.files.session().stream(script, IO_TIMEOUT)
        self._buf = bytearray()
        self._buf_pos, self._end = start, end

    def pread(self, n: int, pos: int) -> bytes:
        if n <= 0:
            return b""
        if self._stream is None or not self._buf_pos <= pos < self._end:
            self.will_read(pos, pos + n)
        assert self._stream is not None
        del self._buf[:pos - self._buf_pos]
        self._buf_pos = pos
        try:
            while len(self._buf) < n:
                chunk = self._stream.recv(max(65536, n - len(self._buf)))
                if not chunk:
                    self._ended()
                    break
                self._buf += chunk
        except OSError as e:  # socket.timeout included
            raise OSError(errno.EIO, f"读取 {self.path} 中断: {e or type(e).__name__}") from None
        return bytes(self._buf[:n])

    def _ended(self) -> None:
        stream = self._stream
        assert stream is not None
        code = stream.code
        if code == 0 or code == 5 or self._buf:
            return  # 5: replaced since the listing; nothing read, looked at again next run
        err = stream.stderr().decode("utf-8", "replace")
        if code == 3:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", self.path)
        if "Permission denied" in err:
            raise PermissionError(errno.EACCES, "Permission denied", self.path)
        raise OSError(errno.EIO, err.strip().splitlines()[-1] if err.strip() else f"退出码 {code}")

    def _stop(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.close()

    def close(self) -> None:
        self._stop()
