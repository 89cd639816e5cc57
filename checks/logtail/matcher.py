"""Find the lines of a block of log bytes that match the configured patterns, fast.

Python's regex engine crawls through alternations and (?i) (0.2 GB/s), while `bytes.find` of one
literal runs at C speed. So each pattern is reduced to the literal(s) any match must contain,
encoded to the file's encoding; the block is searched for each literal separately and only the
lines that hit are decoded and confirmed with the real regex. In UTF-8 a literal hit is exact.
In GBK/GB18030 a character's second byte can be an ASCII letter, so a hit is exact only when it
provably starts on a character boundary (line start, or after a byte that always ends a
character); other hits are decoded and confirmed.
A pattern with no required literal (e.g. `\\d{3} ms`) falls back to decoding the whole block.
"""
from __future__ import annotations

import codecs
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

try:  # the regex parser moved in 3.11; both are private but stable for our use
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_parse as _sre_parse  # type: ignore[no-redef]

from checks.text import clean_text

CRITICAL = 2
WARNING = 1
SEVERITIES = {"critical": CRITICAL, "warning": WARNING}

# How far a literal's byte hit can be trusted without decoding the line.
CONFIRM, EXACT, BOUNDARY, BOUNDARY_GB18030 = 0, 1, 2, 3
# Double-byte encodings whose lead bytes are >= 0x80: a hit after a byte < 0x80 starts a character.
_BOUNDARY_RULES = {"gbk": BOUNDARY, "gb2312": BOUNDARY, "big5": BOUNDARY, "gb18030": BOUNDARY_GB18030}

# Java stack traces and other indented continuations belong to the event above them.
CONTINUATION = re.compile(rb"[ \t]|Caused by:|Suppressed:|\.\.\. \d+ (?:more|common frames omitted)")

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
    lit = _sre_parse.LITERAL
    if len(items) == 1:
        op, av = items[0]
        if op is _sre_parse.BRANCH:  # a|b|c: one literal per branch, all needed
            out: list[str] = []
            for branch in av[1]:
                sub = _literals(list(branch))
                if not sub:
                    return None
                out.extend(sub)
            return out
        if op is _sre_parse.SUBPATTERN:  # (a|b) alone: look inside the group
            return _literals(list(av[-1]))
    best: list[int] = []
    run: list[int] = []
    for op, av in [*items, (None, None)]:
        if op is lit:
            run.append(av)
            continue
        if len(run) > len(best):
            best = run
        run = []
    return ["".join(map(chr, best))] if best else None


def compile_patterns(patterns: dict[str, list[str]], encoding: str, ignore_case: bool) -> list[Pattern]:
    flags = re.IGNORECASE if ignore_case else 0
    out: list[Pattern] = []
    for sev_name, texts in patterns.items():
        for text in texts:
            regex = re.compile(text, flags)
            icase = bool(regex.flags & re.IGNORECASE)
            lits = required_literals(text, flags)
            needles: list[bytes] = []
            if lits:
                for lit in lits:
                    if icase and any(not c.isascii() and c.lower() != c.upper() for c in lit):
                        needles = []  # non-ASCII case folding cannot be done on bytes
                        break
                    try:
                        raw = lit.encode(encoding)
                    except UnicodeEncodeError:
                        needles = []
                        break
                    needles.append(raw.translate(_LOWER) if icase else raw)
            exact = CONFIRM
            if needles and not icase and _is_plain(text):
                exact = EXACT if encoding == "utf-8" else _BOUNDARY_RULES.get(encoding, CONFIRM)
            out.append(Pattern(text, SEVERITIES[sev_name], regex, needles, exact))
    return out


def _is_plain(text: str) -> bool:
    """A pattern that is its own literal (no metacharacters at all)."""
    return not any(c in text for c in ".^$*+?{}[]\\|()")


class Matcher:
    """Candidate lines of a block, then the severity of each line."""

    def __init__(self, patterns: list[Pattern], ignore: list[re.Pattern[str]], encoding: str,
                 ignore_case: bool) -> None:
        self.patterns = sorted(patterns, key=lambda p: -p.severity)
        self.ignore = ignore
        self.encoding = encoding
        self.lower = ignore_case or any(p.regex.flags & re.IGNORECASE for p in patterns)
        self.fast = [(n, p.severity, p.exact) for p in self.patterns for n in p.needles]
        self.top = max((p.severity for p in self.patterns), default=0)
        self.trusted = self.top if not self.ignore else CRITICAL + 1
        self.slow = [p for p in self.patterns if not p.needles]
        # When every pattern is an exact literal and nothing is ignored, lines need no decoding.
        self.all_exact = not self.ignore and not self.slow and all(p.exact == EXACT for p in self.patterns)
        # Confirming a plain word is a substring test, cheaper than a regex search.
        self._confirm = [(p, p.text if _is_plain(p.text) and not p.regex.flags & re.IGNORECASE else None)
                         for p in self.patterns]

    def candidates(self, data: bytes, end: int) -> dict[int, int]:
        """Line start -> severity known from an exact hit (0: must be confirmed) within data[:end]."""
        hits: dict[int, int] = {}
        hay = data.translate(_LOWER) if self.lower else data
        rfind = hay.rfind
        memmem = _memmem() if end >= MEMMEM_MIN else None
        find = _memmem_finder(hay, end, memmem) if memmem is not None else hay.find
        for needle, sev, rule in self.fast:
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
        if self.slow:
            for ls in self._decoded_hits(data, end):
                hits.setdefault(ls, 0)
        return hits

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
        text = self.decode(line[:-1] if line.endswith(b"\r") else line)  # CRLF: `$` still anchors
        sev = known
        for p, plain in self._confirm:
            if p.severity <= sev:
                break
            if (plain in text) if plain is not None else p.regex.search(text):
                sev = p.severity
        if sev and self.ignore and any(r.search(text) for r in self.ignore):
            return 0, text
        return sev, text
