"""Read one file from its saved offset in big chunks and count the events in what is new.

Memory is bounded by the chunk size whatever the file size. An unfinished last line is left for
the next run unless it is already longer than max_line_length (then it is cut, not dropped); the
next piece of a cut line is read together with the line so far (up to CARRY bytes), so a pattern
across the cut is found. With multiline on, indented lines, `Caused by:`, `... N more` and Java
exception headers belong to the event above them (or, with `event_start`, every line that does not
match it), so a stack trace under an ERROR line is one event: events are keyed by the offset of
their head line, which is also what keeps a cut line from counting twice.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from checks.logtail.access import LOCAL, FileAccess
from checks.logtail.files import FileState
from checks.logtail.matcher import CONTINUATION_FIRST, CRITICAL, WARNING, Matcher, continuation_rule

CHUNK = 1 << 20
CARRY = 64 * 1024
# An event ends this far after its first line: a `multiline`/`event_start` rule that matches every
# line (a misconfigured event_start) cannot make a whole log one event counted once.
MAX_EVENT_BYTES = 256 * 1024
ENC_SAMPLE = 4 * 1024  # bytes of each chunk checked for undecodable bytes (all of a small read)
SAMPLE_CHARS = 300


@dataclass
class Tally:
    """What one run found, over all files."""

    sample_limit: int
    counts: dict[int, int] = field(default_factory=lambda: {WARNING: 0, CRITICAL: 0})
    per_file: dict[str, list[int]] = field(default_factory=dict)  # path -> [_, warning, critical]
    samples: dict[int, list[dict[str, str]]] = field(default_factory=lambda: {WARNING: [], CRITICAL: []})
    bad_bytes: dict[str, list[int]] = field(default_factory=dict)  # path -> [undecodable, sampled]

    def count(self, fs: FileState, sev: int, delta: int) -> None:
        self.counts[sev] += delta
        self.per_file.setdefault(fs.path, [0, 0, 0])[sev] += delta

    def sample(self, fs: FileState, sev: int, text: str) -> None:
        bucket = self.samples[sev]
        if len(bucket) < self.sample_limit:
            line = text.rstrip("\r\n")
            if len(line) > SAMPLE_CHARS:
                line = line[:SAMPLE_CHARS] + "…"
            bucket.append({"file": os.path.basename(fs.path),
                           "severity": "critical" if sev == CRITICAL else "warning", "line": line})

    def encoding_check(self, fs: FileState, encoding: str, raw: bytes) -> None:
        """Count the bytes of `raw` that do not decode in the configured encoding."""
        if raw.isascii():
            bad = 0
        else:  # backslashreplace turns each undecodable byte into one `\xNN`
            bad = raw.decode(encoding, "backslashreplace").count("\\x") - raw.count(b"\\x")
        seen = self.bad_bytes.setdefault(fs.path, [0, 0])
        seen[0] += bad
        seen[1] += len(raw)

    def sample_list(self) -> list[dict[str, str]]:
        crit = self.samples[CRITICAL]
        return (crit + self.samples[WARNING])[:max(self.sample_limit, 0)]


class FileReader:
    def __init__(self, matcher: Matcher, *, multiline: bool, max_line: int,
                 access: FileAccess = LOCAL, event_start: Optional[str] = None) -> None:
        self.access = access
        self.matcher = matcher
        self.cont: Optional[Callable[[bytes, int], Any]] = (
            continuation_rule(event_start, matcher.encoding) if multiline else None)
        # Bytes a continuation line may start with (None: any, for an `event_start` rule).
        self.cont_first: Optional[frozenset[int]] = CONTINUATION_FIRST if event_start is None else None
        self.max_line = max_line
        # Bytes of a cut line read again with its next piece, so that a pattern across the cut
        # is seen whole (the event is keyed by the line's start, so it still counts once).
        self.carry = max(max_line, CARRY)

    def read(self, fs: FileState, budget: int, tally: Tally) -> int:
        """Consume new complete lines of `fs` (at most `budget` bytes); return bytes consumed."""
        f = self.access.open(fs.path)
        try:
            st = f.stat()
            if (st.st_dev, st.st_ino) != fs.key:
                return 0  # replaced since it was found; looked at again next run
            fs.size = st.st_size
            start = pos = fs.run_start = fs.offset
            limit = min(st.st_size, start + budget)
            fs.behind = limit < st.st_size
            if pos < limit:
                f.will_read(pos - self._reread(fs, pos), limit)
            try:
                while pos < limit:
                    back = self._reread(fs, pos)
                    data = f.pread(back + min(CHUNK, limit - pos), pos - back)
                    if len(data) <= back:
                        break
                    end = data.rfind(b"\n") + 1
                    cut = end == 0
                    if cut:
                        if len(data) - back < self.max_line:
                            break  # unfinished line: wait for its end
                        end = len(data)
                    stop = end if end - back <= ENC_SAMPLE else (
                        data.rfind(b"\n", back, back + ENC_SAMPLE) + 1 or back + ENC_SAMPLE)
                    tally.encoding_check(fs, self.matcher.encoding, data[back:stop])  # whole lines if it can
                    self._block(fs, data, end, pos - back, cut, tally)
                    pos += end - back
            finally:
                fs.offset = pos  # what was counted stays counted, even if a read failed
            return pos - start
        finally:
            f.close()

    def _reread(self, fs: FileState, pos: int) -> int:
        """Bytes before `pos` read again: after a cut, the line so far (up to `carry` bytes)."""
        return min(pos - fs.open_line, self.carry) if 0 <= fs.open_line < pos else 0

    def _block(self, fs: FileState, data: bytes, end: int, base: int, cut: bool, tally: Tally) -> None:
        matcher, cont, first = self.matcher, self.cont, self.cont_first
        hits = matcher.candidates(data, end)
        known: list[int] = [-1, -1]  # (line start, head) of the last line looked at

        def head_of(ls: int) -> int:
            if ls == 0 and fs.open_line >= 0:
                return fs.tail_head if fs.tail_head >= 0 else fs.open_line
            if cont is None or not cont(data, ls):
                return base + ls
            j = ls
            while j > 0:
                k = data.rfind(b"\n", 0, j - 1) + 1
                if k == known[0]:
                    return known[1]
                if k == 0 and fs.open_line >= 0:
                    return fs.tail_head if fs.tail_head >= 0 else fs.open_line
                if not cont(data, k):
                    return base + k
                j = k
            return fs.tail_head if fs.tail_head >= 0 else base

        exact = matcher.all_exact
        trusted = matcher.trusted  # a known severity this high needs no decoding
        open_head = (fs.tail_head if fs.tail_head >= 0 else fs.open_line) if fs.open_line >= 0 else -1
        found = [0, 0, 0]  # events first counted here, by severity
        samples, limit = tally.samples, tally.sample_limit
        for ls in sorted(hits):
            line: Optional[bytes] = None
            text: Optional[str] = None
            if exact or hits[ls] >= trusted:
                sev = hits[ls]
            else:
                le = data.find(b"\n", ls, end)
                line = data[ls:le if le != -1 else end]
                sev, text = matcher.classify(line, hits[ls])
            if ls == 0 and open_head >= 0:
                head = open_head
            elif cont is not None and (first is None or data[ls] in first) and cont(data, ls):
                head = head_of(ls)
                if base + ls - head > MAX_EVENT_BYTES:
                    head = base + ls  # too far from its first line: a new event
            else:
                head = base + ls
            known[0], known[1] = ls, head
            if not sev:
                continue
            if head == fs.event_head:
                if sev > fs.event_sev:
                    self._upgrade(fs, head, sev, tally)
                continue
            fs.event_head, fs.event_sev = head, sev
            found[sev] += 1
            if len(samples[sev]) < limit:
                if line is None:
                    le = data.find(b"\n", ls, end)
                    line = data[ls:le if le != -1 else end]
                tally.sample(fs, sev, text if text is not None else matcher.decode(line))
        for sev in (WARNING, CRITICAL):
            if found[sev]:
                tally.count(fs, sev, found[sev])

        last = data.rfind(b"\n", 0, end if cut else end - 1) + 1
        tail_head = head_of(last)
        if cut:
            fs.open_line = fs.open_line if (last == 0 and fs.open_line >= 0) else base + last
        else:
            fs.open_line = -1
        fs.tail_head = tail_head

    @staticmethod
    def _upgrade(fs: FileState, head: int, sev: int, tally: Tally) -> None:
        """An event seen as a warning turns out critical: count it once, at the worse level
        (if a previous run already reported the warning, that report stands)."""
        tally.count(fs, sev, 1)
        if head >= fs.run_start:
            tally.count(fs, fs.event_sev, -1)
        fs.event_sev = sev
