"""Which files to read and from where: globbing, rotation, truncation, identity.

A file is known by (device, inode) plus a fingerprint (hash of its first bytes). The inode follows
a file renamed by logrotate (app.log -> app.log.1) so its tail is still read; the fingerprint tells
an inode reused by a new file, or a file truncated and rewritten, from the file we were reading;
and it recognises a copy (copytruncate's app.log.1, a file copied back under its old name) so that
content already read is not counted again.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import glob

try:  # the builtin module: hashlib would load libcrypto (~3.4 MiB resident) into the agent
    from _sha1 import sha1 as _sha1
except ImportError:  # pragma: no cover - builds without it
    from hashlib import sha1 as _sha1
import os
import stat
import time
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from checks.logtail.access import LOCAL, FileAccess, read_at

FP_BYTES = 256
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".lzma", ".z", ".7z", ".tgz")
GONE_KEEP = 64              # forgotten files remembered for a while, to recognise copies
GONE_MAX_AGE = 7 * 86400.0


@dataclass
class FileState:
    """Where reading of one log file stands (saved between runs)."""

    path: str
    dev: int
    ino: int
    offset: int
    fp: str = ""          # sha1 of the first fp_len bytes
    fp_len: int = 0
    size: int = 0         # size when last seen (activity detection)
    event_head: int = -1  # start of the event last counted, and the severity it was counted at
    event_sev: int = 0
    tail_head: int = -1   # event head of the line just before `offset`
    open_line: int = -1   # start of a line cut at max_line_length whose rest begins at `offset`
    gone_at: float = 0.0
    enc_bad: int = 0          # undecodable bytes found in samples so far, and bytes sampled
    enc_sampled: int = 0
    enc_warned: bool = False  # undecodable bytes were reported once for this file
    # Per run, not saved:
    primary: bool = field(default=True, compare=False)
    mtime: float = field(default=0.0, compare=False)
    note: str = field(default="", compare=False)  # "rotated", "truncated", "new", "copy"
    behind: bool = field(default=False, compare=False)  # the byte cap stopped reading it
    run_start: int = field(default=0, compare=False)    # offset where this run began reading

    _SAVED = ("path", "dev", "ino", "offset", "fp", "fp_len", "size", "event_head", "event_sev",
              "tail_head", "open_line", "gone_at", "enc_bad", "enc_sampled",
              "enc_warned")

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._SAVED}  # all plain values: no asdict deep copy

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Optional[FileState]:
        names = {f.name for f in fields(cls)}
        try:
            fs = cls(**{k: v for k, v in d.items() if k in names and k in cls._SAVED})
            fs.dev, fs.ino, fs.offset = int(fs.dev), int(fs.ino), int(fs.offset)
            return fs
        except (TypeError, ValueError):
            return None

    @property
    def key(self) -> tuple[int, int]:
        return (self.dev, self.ino)

    def restart(self, offset: int) -> None:
        """The content changed under us: forget positions and events."""
        self.offset = offset
        self.event_head = self.tail_head = self.open_line = -1
        self.event_sev = 0


@dataclass
class Candidate:
    """A file that may be one of the watched logs."""

    path: str
    st: os.stat_result
    primary: bool  # matched by the configured globs (siblings are only followed, never started)
    foreign: bool = False  # found in a subdirectory by guess: followed only if already known

    @property
    def key(self) -> tuple[int, int]:
        return (self.st.st_dev, self.st.st_ino)


def is_compressed(path: str) -> bool:
    return path.lower().endswith(COMPRESSED)


def discover(patterns: list[str], exclude: list[str], bases: tuple[str, ...] = (),
             access: FileAccess = LOCAL, olddirs: tuple[str, ...] = ()
             ) -> dict[tuple[int, int], Candidate]:
    """Glob matches (primary) and their rotated siblings `<name>.1`, `<name>-20261125`.

    `bases` are last run's live files: their siblings are still looked at while the live file
    itself is briefly missing (between logrotate's rename and create). Siblings are also looked
    for in `olddirs` (logrotate's `olddir`, relative to the log's directory or absolute).
    """
    out: dict[tuple[int, int], Candidate] = {}
    primaries: list[str] = []
    for pattern in patterns:
        for path in sorted(access.glob(pattern)):
            if _wanted(path, exclude) and _add(out, path, True, access):
                primaries.append(path)
    for path in sorted(set(primaries).union(bases)):
        folder, name = os.path.split(path)
        for where in [folder, *(os.path.join(folder, d) for d in olddirs)]:
            esc = glob.escape(os.path.join(where, name))
            for sib in sorted(access.glob(esc + ".*") + access.glob(esc + "-*")):
                if _wanted(sib, exclude):
                    _add(out, sib, False, access)
    return out


def discover_moved(bases: list[str], exclude: list[str], out: dict[tuple[int, int], Candidate],
                   access: FileAccess = LOCAL) -> None:
    """Add the rotated siblings of `bases` found in direct subdirectories of their directory
    (logrotate's `olddir` not configured here) as `foreign` candidates: followed if already known.
    Called only when a file being followed was not found, so a listing per subdirectory is paid
    only then."""
    for path in sorted(set(bases)):
        folder, name = os.path.split(path)
        esc = glob.escape(folder) + "/*/" + glob.escape(name)
        for sib in sorted(access.glob(esc + ".*") + access.glob(esc + "-*")):
            if _wanted(sib, exclude):
                _add(out, sib, False, access, foreign=True)


def _wanted(path: str, exclude: list[str]) -> bool:
    if is_compressed(path):
        return False
    name = os.path.basename(path)
    return not any(fnmatch.fnmatch(path, ex) or fnmatch.fnmatch(name, ex) for ex in exclude)


def _add(out: dict[tuple[int, int], Candidate], path: str, primary: bool, access: FileAccess,
         foreign: bool = False) -> bool:
    try:
        st = access.stat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    key = (st.st_dev, st.st_ino)
    if key in out:
        out[key].primary = out[key].primary or primary
        return False
    out[key] = Candidate(path, st, primary, foreign)
    return True


def fingerprint(path: str, length: int, access: FileAccess = LOCAL) -> Optional[str]:
    try:
        head = read_at(access, path, 0, length)
    except OSError:
        return None
    if len(head) < length:
        return None
    return _sha1(head).hexdigest()


def end_offset(path: str, size: int, access: FileAccess = LOCAL) -> int:
    """Where to begin on first sight of a file: after its last complete line."""
    window = min(size, 65536)
    try:
        tail = read_at(access, path, size - window, window)
    except OSError:
        return size
    nl = tail.rfind(b"\n")
    if nl == -1:  # one unfinished line: read it once it is complete
        return 0 if window == size else size
    return size - window + nl + 1


def _telling(fs: FileState) -> bool:
    """Is the fingerprint evidence? A full one is; a short one (small file) only once it covers a
    complete line we consumed: a few bytes of an unfinished first line match too many files."""
    return fs.fp_len >= FP_BYTES or (fs.fp_len > 0 and fs.offset > 0)


class Reconciler:
    """Match saved file states to the files on disk now; decide where each one is read from."""

    def __init__(self, saved: list[FileState], gone: list[FileState], *, fresh_start: bool,
                 from_start: bool, seen: Optional[set[tuple[int, int]]] = None,
                 access: FileAccess = LOCAL) -> None:
        self.access = access
        self.saved = saved
        self.gone = gone
        self.seen = seen or set()  # rotated siblings looked at and left alone in earlier runs
        self.seen_now: set[tuple[int, int]] = set()
        self.fresh_start = fresh_start  # first run: files already there begin at their end
        self.from_start = from_start
        self._fp_cache: dict[tuple[str, int], Optional[str]] = {}

    def _fp(self, path: str, length: int) -> Optional[str]:
        k = (path, length)
        if k not in self._fp_cache:
            self._fp_cache[k] = fingerprint(path, length, self.access)
        return self._fp_cache[k]

    def run(self, cands: dict[tuple[int, int], Candidate]) -> tuple[list[FileState], list[FileState]]:
        now = time.time()
        active: list[FileState] = []
        replaced: list[FileState] = []  # old identities of files truncated/rewritten in place
        for fs in self.saved:
            c = cands.get(fs.key)
            changed = c is not None and (c.st.st_size < fs.offset or (
                fs.fp_len > 0 and self._fp(c.path, fs.fp_len) != fs.fp))
            if c is None or (changed and not c.primary):
                # Gone; or a rotated name now holding other content (its inode was freed and
                # reused, e.g. by a copy): the candidate is judged below as an unknown file.
                fs.gone_at = now
                self.gone.append(fs)
                continue
            del cands[fs.key]
            fs.path, fs.primary, fs.mtime, fs.size = c.path, c.primary, c.st.st_mtime, c.st.st_size
            if changed:  # truncated in place (copytruncate) or replaced: read from the start
                replaced.append(dataclasses.replace(fs))
                fs.restart(0)
                fs.fp, fs.fp_len = "", 0
                fs.note = "truncated"
            elif not c.primary and fs.note == "":
                fs.note = "rotated"
            self._refresh_fp(fs, c.st.st_size)
            active.append(fs)
        adopted, copies = self._adopt_copies(list(cands.values()), replaced)
        # Largest first: of several copies of one content (logrotate `copy` run twice between
        # two runs), the largest is read and the smaller ones are recognised as its copies.
        for c in sorted(cands.values(), key=lambda c: -c.st.st_size):
            fs = adopted.get(c.key)
            if fs is None:
                if not c.primary and (c.foreign or c.key in self.seen or c.key in copies or self.fresh_start
                                      or self._copy_of_known(c, active, [*replaced, *self.gone])):
                    self.seen_now.add(c.key)  # its content was (or will be) read as the live file
                    continue
                # A primary file born since the last run, or a sibling we never saw as the live file
                # (rotated twice between two runs): new content, read from its start.
                start = 0 if (self.from_start or not self.fresh_start) else end_offset(
                    c.path, c.st.st_size, self.access)
                if c.key in copies:
                    start = c.st.st_size  # a live file holding an older copy of what we read
                fs = FileState(c.path, c.st.st_dev, c.st.st_ino, start)
                fs.note = "new" if not self.fresh_start else ""
            fs.primary, fs.mtime, fs.size = c.primary, c.st.st_mtime, c.st.st_size
            self._refresh_fp(fs, c.st.st_size)
            active.append(fs)
        self.gone = sorted((g for g in self.gone if now - g.gone_at < GONE_MAX_AGE),
                           key=lambda g: -g.gone_at)[:GONE_KEEP]
        return active, self.gone

    def _copy_of_known(self, c: Candidate, live: list[FileState], old: list[FileState]) -> bool:
        """An older copy of content we read (or will read): logrotate's `copy`, or a copy made
        before a truncation whose tail we had already read."""
        n = min(FP_BYTES, c.st.st_size)
        if n and any(fs.size >= n and self._fp(fs.path, n) == self._fp(c.path, n) for fs in live):
            return True
        return any(_telling(k) and self._fp(c.path, k.fp_len) == k.fp for k in old)

    def _adopt_copies(self, cands: list[Candidate], replaced: list[FileState]
                      ) -> tuple[dict[tuple[int, int], FileState], set[tuple[int, int]]]:
        """New inodes holding a copy of content we had read (copytruncate's app.log.1, a file
        copied back): the largest copy continues where we stood, the other copies are skipped."""
        adopted: dict[tuple[int, int], FileState] = {}
        copies: set[tuple[int, int]] = set()
        for pool, strict in ((replaced, False), (self.gone, True)):
            for old in list(pool):
                if not _telling(old):
                    continue
                matches = [c for c in cands if c.key not in adopted and c.key not in copies
                           and c.key not in self.seen  # judged a copy of read content before
                           and c.st.st_size >= old.offset
                           and not (strict and c.primary and old.fp_len < FP_BYTES and old.path != c.path)
                           and self._fp(c.path, old.fp_len) == old.fp]
                if not matches:
                    continue
                best = max(matches, key=lambda c: (c.st.st_size, c.st.st_mtime, c.primary))
                pool.remove(old)
                fs = dataclasses.replace(old)
                fs.path, fs.dev, fs.ino, fs.gone_at = best.path, best.st.st_dev, best.st.st_ino, 0.0
                fs.note = "copy"
                adopted[best.key] = fs
                copies.update(c.key for c in matches if c is not best)
        return adopted, copies

    def _refresh_fp(self, fs: FileState, size: int) -> None:
        if fs.fp_len < FP_BYTES and size > fs.fp_len:
            n = min(size, FP_BYTES)
            fp = fingerprint(fs.path, n, self.access)
            if fp is not None:
                fs.fp, fs.fp_len = fp, n
