"""Find the lines of a block of log bytes that match the configured patterns, fast.

Python's regex engine crawls through alternations and (?i) (0.2 GB/s), while `bytes.find` of one
literal runs at C speed. So each pattern is reduced to the literal(s) any match must contain,
encoded to the file's encoding; the block is searched for each literal separately and only the
lines that hit are decoded and confirmed with the real regex. In UTF-8 a literal hit is exact.
In GBK/GB18030 a character's second byte can be an ASCII letter, so a hit is exact only when it
provably starts on a character boundary (line start, or after a byte that always ends a
character); other hits are decoded and confirmed.
A regex that checks.logtail.bytesregex can rewrite on bytes is confirmed on the raw line without
decoding; if its longest literal is short (`\\d{4}ms`) the rewritten regex runs over the whole
block in C instead of a literal search, if long it is matched where `memmem` finds the literal.
A pattern with no required literal and no rewrite (e.g. `\\d+.*ms`) decodes the whole block.
"""
from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

from checks.logtail import multisearch
from checks.logtail.bytesregex import chunk_finder, to_bytes

try:  # the regex parser moved in 3.11; both are private but stable for our use
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as _sre_parse  # type: ignore[no-redef]

from checks.text import clean_text

CRITICAL = 2
WARNING = 1
# ASCII semantics for \d \w \b \s and case folding: what grep in the C locale and RE2 do, and
# what lets a pattern run on the raw bytes (checks.logtail.bytesregex).
PATTERN_FLAGS = re.ASCII
SEVERITIES = {"critical": CRITICAL, "warning": WARNING}

# How far a literal's byte hit can be trusted without decoding the line.
CONFIRM, EXACT, BOUNDARY, BOUNDARY_GB18030 = 0, 1, 2, 3
# Double-byte encodings whose lead bytes are >= 0x80: a hit after a byte < 0x80 starts a character.
_BOUNDARY_RULES = {"gbk": BOUNDARY, "gb2312": BOUNDARY, "big5": BOUNDARY, "gb18030": BOUNDARY_GB18030}

# Java stack traces and other indented continuations belong to the event above them, and so does
# the exception header logback/log4j write directly under the message of `log.error(msg, e)`:
# a qualified class name ending in Exception/Error/Throwable, then `:` or the end of the line.
CONTINUATION = re.compile(
    rb"[ \t]|Caused by:|Suppressed:|\.\.\. \d+ (?:more|common frames omitted)"
    rb"|(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(?:Exception|Error|Throwable)(?=[:\r\n]|\Z)")
# The bytes a CONTINUATION line can start with: a line starting with anything else (a timestamp's
# digit) is a new event without running the regex, a saving of ~1 µs on each hit line.
CONTINUATION_FIRST = frozenset(b" \t.$_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def continuation_rule(event_start: Optional[str], encoding: str
                      ) -> Callable[[bytes, int], Any]:
    """Is the line at `pos` a continuation? The built-in markers, or with `event_start` (a regex
    every event's first line matches, as Filebeat's multiline.pattern with negate) any line that
    does not match it."""
    if event_start is None:
        return CONTINUATION.match
    start = re.compile(event_start.encode(encoding), re.MULTILINE)
    match = start.match
    return lambda data, pos: match(data, pos) is None

# Upper -> lower for ASCII only: the same transform is applied to blocks and to needles.
_LOWER = bytes.maketrans(bytes(range(65, 91)), bytes(range(97, 123)))


# Blocks smaller than this are searched with bytes.find: ctypes (about 0.4 MiB resident once
# loaded) pays off on large reads only (a backlog, a busy log), not on the few KiB a minute that
# most logs grow by.
MEMMEM_MIN = 256 * 1024


def _load_memmem() -> Optional[Callable[..., Optional[int]]]:
    """glibc's memmem (two-way with a bigram shift table) is 1-3x faster than bytes.find, most
    on long and non-ASCII needles where CPython's bloom-filter skip rarely skips."""
    if os.environ.get("XUNJIAN_LOG_NO_MEMMEM"):
        return None
    import ctypes

    fn = None
    for name in (None, "libc.so.6"):  # None: the symbols already loaded (the interpreter's libc)
        try:
            fn = ctypes.CDLL(name).memmem
            break
        except (OSError, AttributeError):
            continue
    if fn is None:
        return None
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    return fn  # type: ignore[no-any-return]


_MEMMEM: Any = False  # False: not loaded yet (loaded with the first large block); None: unavailable


def _memmem() -> Optional[Callable[..., Optional[int]]]:
    global _MEMMEM
    if _MEMMEM is False:
        _MEMMEM = _load_memmem()
    return _MEMMEM  # type: ignore[no-any-return]


def _memmem_finder(hay: bytes, end: int, memmem: Callable[..., Optional[int]]) -> Callable[[bytes, int, int], int]:
    """hay.find(needle, start, end) through memmem; `hay` must stay alive while it is used."""
    import ctypes

    base = ctypes.cast(ctypes.c_char_p(hay), ctypes.c_void_p).value or 0

    def find(needle: bytes, start: int, stop: int = end) -> int:
        if start >= stop:
            return -1
        r = memmem(base + start, stop - start, needle, len(needle))
        return r - base if r else -1
    return find


@dataclass
class Pattern:
    """One configured pattern, compiled, with the literals that any match contains."""

    text: str
    severity: int
    regex: re.Pattern[str]
    needles: list[bytes]  # any match contains one of these (after lowering if icase); [] = none known
    exact: int            # EXACT: a needle hit is a match; BOUNDARY(_GB18030): if it starts a char
    bregex: Optional[re.Pattern[bytes]] = None  # the same lines on raw bytes (checks.logtail.bytesregex)
    chunk: Optional[re.Pattern[bytes]] = None   # finds the matches in a whole block, in C
    anchor: Optional[tuple[bytes, re.Pattern[bytes]]] = None  # a literal, and the regex matching from it


def check_encoding(name: str) -> str:
    """The codec's canonical name; refuse encodings where a newline or ASCII is not itself."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"unknown encoding {name!r} (use utf-8, gbk or gb18030)") from None
    if "\n ERROR at".encode(info.name) != b"\n ERROR at":
        raise ValueError(f"encoding {name!r} is not ASCII-compatible (use utf-8, gbk or gb18030)")
    return info.name


def required_literals(pattern: str, flags: int = 0) -> Optional[list[str]]:
    """Literal strings one of which every match of `pattern` contains, or None if unknown."""
    try:
        parsed = _sre_parse.parse(pattern, flags)
    except Exception:
        return None
    return _literals(list(parsed))


def _literals(items: list) -> Optional[list[str]]:
    """The best set of literals one of which a match of this sequence contains: a run of plain
    characters, or a group/alternation/repeat whose every branch has one; the set whose shortest
    literal is longest wins (fewer literals on a tie)."""
    options: list[list[str]] = []
    run: list[int] = []
    for op, av in [*items, (None, None)]:
        if op is _sre_parse.LITERAL:
            run.append(av)
            continue
        if run:
            options.append(["".join(map(chr, run))])
            run = []
        sub: Optional[list[str]] = None
        if op is _sre_parse.BRANCH:  # a|b|c: one literal per branch, all needed
            sub = []
            for branch in av[1]:
                got = _literals(list(branch))
                if not got:
                    sub = None
                    break
                sub.extend(got)
        elif op is _sre_parse.SUBPATTERN and not av[1] & re.IGNORECASE:  # (?i:...) is not literal
            sub = _literals(list(av[-1]))
        elif op in (_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT) and av[0] >= 1:
            sub = _literals(list(av[2]))
        if sub:
            options.append(sub)
    if not options:
        return None
    return max(options, key=lambda o: (min(map(len, o)), -len(o)))


# A required literal shorter than this is too common to search for (`ms`, `id`): a pattern that
# has one is searched with its compiled bytes regex over the whole block instead.
SHORT_NEEDLE = 4


def compile_patterns(patterns: dict[str, list[str]], encoding: str, ignore_case: bool) -> list[Pattern]:
    flags = PATTERN_FLAGS | (re.IGNORECASE if ignore_case else 0)
    out: list[Pattern] = []
    for sev_name, texts in patterns.items():
        for text in texts:
            regex = re.compile(text, flags)
            icase = bool(regex.flags & re.IGNORECASE)
            lits = required_literals(text, flags)
            needles: list[bytes] = []
            if lits:
                for lit in lits:
                    try:
                        raw = lit.encode(encoding)
                    except UnicodeEncodeError:
                        needles = []
                        break
                    needles.append(raw.translate(_LOWER) if icase else raw)
            exact = CONFIRM
            if needles and not icase and _is_plain(text):
                exact = EXACT if encoding == "utf-8" else _BOUNDARY_RULES.get(encoding, CONFIRM)
            raw_regex = to_bytes(text, flags, encoding)
            bregex = re.compile(raw_regex[0], raw_regex[1]) if raw_regex is not None else None
            chunk = anchor = None
            found = chunk_finder(text, flags, encoding) if exact == CONFIRM and bregex is not None else None
            if found is not None:
                needles = []
                if len(found[1]) < SHORT_NEEDLE:
                    chunk = found[0]
                else:
                    anchor = (found[1].translate(_LOWER) if icase else found[1], found[0])
            out.append(Pattern(text, SEVERITIES[sev_name], regex, needles, exact, bregex, chunk, anchor))
    return out


def _is_plain(text: str) -> bool:
    """A pattern that is its own literal (no metacharacters at all)."""
    return not any(c in text for c in ".^$*+?{}[]\\|()")


class Matcher:
    """Candidate lines of a block, then the severity of each line."""

    def __init__(self, patterns: list[Pattern], ignore: list[re.Pattern[str]], encoding: str) -> None:
        self.patterns = sorted(patterns, key=lambda p: -p.severity)
        self.ignore = ignore
        self.encoding = encoding
        self.utf8 = encoding == "utf-8"
        self.lower = any((p.needles or p.anchor) and p.regex.flags & re.IGNORECASE for p in patterns)
        self.fast = [(n, p.severity, p.exact) for p in self.patterns for n in p.needles]
        # A bytes-regex hit is a match in UTF-8; in GBK/GB18030 it may start inside a character.
        self.chunked = [(p.chunk, p.severity if self.utf8 else 0) for p in self.patterns if p.chunk]
        self.anchored = [(*p.anchor, p.severity if self.utf8 else 0) for p in self.patterns if p.anchor]
        self.top = max((p.severity for p in self.patterns), default=0)
        self.trusted = self.top if not self.ignore else CRITICAL + 1
        self.slow = [p for p in self.patterns if not p.needles and p.chunk is None and p.anchor is None]
        # When every hit is certain and nothing is ignored, lines need no decoding.
        self.all_exact = not self.ignore and not self.slow and all(
            p.exact == EXACT or ((p.chunk or p.anchor) is not None and self.utf8) for p in self.patterns)
        # Confirming a plain word is a substring test, cheaper than a regex search.
        self._confirm = [(p, p.text if _is_plain(p.text) and not p.regex.flags & re.IGNORECASE else None)
                         for p in self.patterns]
        self._engine: Any = False  # compiled searchers, made with the first large block; None: none

    def _searchers(self) -> Any:
        """(literal searchers with each hit index's [(severity, rule)], anchored searchers by
        pattern) from checks.logtail.multisearch, or None without its engine."""
        if self._engine is False:
            self._engine = None
            needles: list[bytes] = []
            entries: list[list[tuple[int, int]]] = []
            for needle, sev, rule in self.fast:  # one entry per distinct literal
                if needle in needles:
                    entries[needles.index(needle)].append((sev, rule))
                else:
                    needles.append(needle)
                    entries.append([(sev, rule)])
            keys = [tuple(sorted({sev for sev, _ in e})) for e in entries]
            fast = multisearch.searchers(needles, keys) if needles else []
            if fast is not None:
                anchored = []
                for needle, _rx, _known in self.anchored:
                    one = None if multisearch.self_overlaps(needle) else multisearch.searchers([needle], [0])
                    anchored.append(one[0][0] if one else None)
                self._engine = ([(s, [entries[i] for i in g]) for s, g in fast], anchored)
        return self._engine

    def candidates(self, data: bytes, end: int) -> dict[int, int]:
        """Line start -> severity known from an exact hit (0: must be confirmed) within data[:end]."""
        hits: dict[int, int] = {}
        hay = data.translate(_LOWER) if self.lower else data
        rfind = hay.rfind
        large = end >= MEMMEM_MIN and bool(self.fast or self.anchored)
        engine = self._searchers() if large else None
        memmem = _memmem() if large and engine is None else None
        find = _memmem_finder(hay, end, memmem) if memmem is not None else hay.find
        if engine is not None:
            self._engine_candidates(engine, hits, data, hay, end)
            fast: list[tuple[bytes, int, int]] = []
            anchored = [a for a, s in zip(self.anchored, engine[1]) if s is None]
        else:
            fast, anchored = self.fast, self.anchored
        for needle, sev, rule in fast:
            i = find(needle, 0, end)
            step = len(needle)
            while i != -1:
                ls = rfind(b"\n", 0, i) + 1
                known = sev
                if rule != EXACT and i != ls:
                    b = hay[i - 1]  # a byte < 0x80 ends a GBK character (GB18030: unless a digit)
                    if rule == CONFIRM or b >= 0x80 or (rule == BOUNDARY_GB18030 and 0x30 <= b <= 0x39):
                        known = 0
                elif rule == CONFIRM:
                    known = 0
                if hits.get(ls, -1) < known:
                    hits[ls] = known
                i = find(needle, i + step, end)
        for needle, rx, known in anchored:
            match = rx.match
            i = find(needle, 0, end)
            while i != -1:
                m = match(data, i, end)
                if m is not None:
                    ls = rfind(b"\n", 0, i) + 1
                    if hits.get(ls, -1) < known:
                        hits[ls] = known
                    i = m.end() - 1 if m.end() > i else i
                i = find(needle, i + 1, end)
        for chunk, known in self.chunked:
            line_end = -1
            for m in chunk.finditer(data, 0, end):
                if m.start() < line_end:
                    continue  # another match on a line already found
                ls = data.rfind(b"\n", 0, m.start()) + 1
                line_end = data.find(b"\n", m.start(), end)  # a match never spans a newline
                if line_end == -1:
                    line_end = end
                if hits.get(ls, -1) < known:
                    hits[ls] = known
        if self.slow:
            for ls in self._decoded_hits(data, end):
                hits.setdefault(ls, 0)
        return hits

    def _engine_candidates(self, engine: Any, hits: dict[int, int], data: bytes, hay: bytes, end: int) -> None:
        """The literal and anchored hits of `candidates`, each set of literals in one pass."""
        view = memoryview(hay)[:end]
        rfind = hay.rfind
        for searcher, entries in engine[0]:
            real = searcher.real
            # a literal whose every hit is certain: its severity, else None
            certain = [e[0][0] if len(e) == 1 and e[0][1] == EXACT else None for e in entries]
            for idx, i, _e in searcher.find(view):
                if idx >= real:
                    continue  # a padding literal's hit
                ls = rfind(b"\n", 0, i) + 1
                sev = certain[idx]
                if sev is not None:
                    if hits.get(ls, -1) < sev:
                        hits[ls] = sev
                    continue
                for sev, rule in entries[idx]:
                    known = sev
                    if rule != EXACT and i != ls:
                        b = hay[i - 1]  # a byte < 0x80 ends a GBK character (GB18030: unless a digit)
                        if rule == CONFIRM or b >= 0x80 or (rule == BOUNDARY_GB18030 and 0x30 <= b <= 0x39):
                            known = 0
                    elif rule == CONFIRM:
                        known = 0
                    if hits.get(ls, -1) < known:
                        hits[ls] = known
        for (_needle, rx, known), searcher in zip(self.anchored, engine[1]):
            if searcher is None:
                continue  # searched by candidates itself
            match = rx.match
            nxt = 0
            for _idx, i, _e in searcher.find(view):
                if i < nxt:
                    continue  # inside the last match
                m = match(data, i, end)
                if m is not None:
                    ls = rfind(b"\n", 0, i) + 1
                    if hits.get(ls, -1) < known:
                        hits[ls] = known
                    nxt = m.end()

    def _decoded_hits(self, data: bytes, end: int) -> list[int]:
        """Byte line starts of regex hits found on the decoded block (no literal to search for)."""
        text = data[:end].decode(self.encoding, "surrogateescape")  # lossless: offsets map back
        starts: set[int] = set()
        for p in self.slow:
            t_prev = b_prev = 0
            for m in p.regex.finditer(text):
                ls = text.rfind("\n", 0, m.start()) + 1
                if ls < t_prev:
                    continue
                b_prev += len(text[t_prev:ls].encode(self.encoding, "surrogateescape"))
                t_prev = ls
                starts.add(b_prev)
        return sorted(starts)

    def decode(self, line: bytes) -> str:
        """A line as samples and regexes see it: a binary byte (NUL) becomes U+FFFD."""
        return clean_text(line.decode(self.encoding, "replace"))

    def classify(self, line: bytes, known: int) -> tuple[int, Optional[str]]:
        """Severity of one line (0: no match or ignored) and its text when it was decoded."""
        if self.all_exact or (known >= self.top and not self.ignore):
            return known, None
        if line.endswith(b"\r"):
            line = line[:-1]  # CRLF: `$` still anchors
        raw_ok = self.utf8 or line.isascii()  # the bytes regex gives the decoded text's answer
        text: Optional[str] = None
        sev = known
        for p, plain in self._confirm:
            if p.severity <= sev:
                break
            if raw_ok and p.bregex is not None:
                hit = p.bregex.search(line) is not None
            else:
                if text is None:
                    text = self.decode(line)
                hit = (plain in text) if plain is not None else p.regex.search(text) is not None
            if hit:
                sev = p.severity
        if sev and self.ignore:
            if text is None:
                text = self.decode(line)
            if any(r.search(text) for r in self.ignore):
                return 0, text
        return sev, text
