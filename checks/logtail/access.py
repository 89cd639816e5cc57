"""How the log tailer reaches files: globbing, stat and positioned reads.

The local implementation is plain os calls. Another implementation (the agentless poller reads
files over SSH) provides the same four operations, so rotation, identity and counting stay the
tailer's own code whatever the transport.

A stat result needs `st_dev`, `st_ino`, `st_size`, `st_mtime` and `st_mode`, as os.stat_result has.
"""
from __future__ import annotations

import glob
import os
from typing import Any, Protocol


class OpenFile(Protocol):
    def stat(self) -> Any:
        """The open file's own identity and size (fstat: not the path's, which may be a new file)."""

    def will_read(self, start: int, end: int) -> None:
        """Hint: bytes [start, end) are read next, in order (a remote reader streams them at once)."""

    def pread(self, n: int, pos: int) -> bytes:
        """Up to `n` bytes at `pos`; fewer only at the end of the file."""

    def close(self) -> None: ...


class FileAccess(Protocol):
    def glob(self, pattern: str) -> list[str]:
        """Paths matching a glob (`~` expanded, `**` recursive), as glob.glob returns them."""

    def stat(self, path: str) -> Any:
        """os.stat (following symlinks); raises OSError."""

    def open(self, path: str) -> OpenFile:
        """Open for reading; raises OSError (FileNotFoundError when it is gone)."""


class LocalFile:
    __slots__ = ("fd",)

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDONLY)

    def stat(self) -> os.stat_result:
        return os.fstat(self.fd)

    def will_read(self, start: int, end: int) -> None:
        pass

    def pread(self, n: int, pos: int) -> bytes:
        return os.pread(self.fd, n, pos)

    def close(self) -> None:
        os.close(self.fd)


class LocalAccess:
    def glob(self, pattern: str) -> list[str]:
        return glob.glob(os.path.expanduser(pattern), recursive=True)

    def stat(self, path: str) -> os.stat_result:
        return os.stat(path)

    def open(self, path: str) -> LocalFile:
        return LocalFile(path)


LOCAL = LocalAccess()


def read_at(access: FileAccess, path: str, pos: int, n: int) -> bytes:
    """`n` bytes at `pos` of `path` (fewer at the end of the file)."""
    f = access.open(path)
    try:
        f.will_read(pos, pos + n)
        return f.pread(n, pos)
    finally:
        f.close()
