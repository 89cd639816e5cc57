"""A pattern rewritten as a regex on the log's raw bytes, when that gives the same lines.

Patterns are matched with ASCII semantics (`re.ASCII`: `\\d` `\\w` `\\b` and case folding cover
ASCII only, as grep in the C locale and RE2 do), so a pattern built only from literals, ASCII
classes, repeats, groups, alternation, `^` and `\\b` matches the same lines on UTF-8 bytes as on
the decoded text: searching the bytes needs no decoding, and one compiled bytes regex can run over
a whole block in C. Constructs whose width in bytes is not one character (`.`, `[^...]`, `\\D`,
`\\S`, `\\W`, classes with non-ASCII), that may cross a line (`\\s`, a newline) or look outside it
(`$` before a CR, `\\A`, lookarounds, back-references) keep the decoded path.

In GBK/GB18030 a character's second byte can be an ASCII letter, so a byte match can start inside
a character (checked again on the decoded line), and `\\b` next to such a byte would differ:
there patterns with `\\b`/`\\B` are not rewritten.
"""
from __future__ import annotations

import re
from typing import Any, Optional

try:  # the regex parser moved in 3.11; both are private but stable for our use
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_REPEATS = {_c.MAX_REPEAT: b"", _c.MIN_REPEAT: b"?"}
if hasattr(_c, "POSSESSIVE_REPEAT"):  # 3.11+
    _REPEATS[_c.POSSESSIVE_REPEAT] = b"+"
_AT = {_c.AT_BEGINNING: b"^", _c.AT_BOUNDARY: b"\\b", _c.AT_NON_BOUNDARY: b"\\B"}
_CATEGORY = {_c.CATEGORY_DIGIT: b"\\d", _c.CATEGORY_WORD: b"\\w"}


class _Unsafe(Exception):
    pass


def to_bytes(pattern: str, flags: int, encoding: str) -> Optional[tuple[bytes, int, list[Any]]]:
    """The pattern as bytes (and its compile flags, parsed items), or None if it cannot be."""
    try:
        items = list(_sre_parse.parse(pattern, flags))
        boundaries = encoding == "utf-8"
        return _seq(items, encoding, boundaries), _bflags(re.compile(pattern, flags).flags), items
    except (_Unsafe, re.error, UnicodeEncodeError, OverflowError):
        return None


def _bflags(flags: int) -> int:
    return re.MULTILINE | (flags & re.IGNORECASE)  # `^` at every line start, as per line


def chunk_finder(pattern: str, flags: int, encoding: str) -> Optional[tuple[re.Pattern[bytes], bytes]]:
    """A bytes regex whose matches begin at the pattern's longest literal, and that literal: the
    pattern itself when it starts with the literal, else, when what precedes the literal has a
    fixed width, `LIT(?<=PREFIX LIT)REST`. The engine scans a whole block for the literal in C
    (finditer), or it is matched (`match(data, pos)`) where a faster search found the literal."""
    got = to_bytes(pattern, flags, encoding)
    if got is None:
        return None
    whole, bflags, items = got
    best: tuple[int, int, int] = (0, 0, 0)  # (length, first, end) of the longest literal run
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and items[j][0] is _c.LITERAL:
            j += 1
        if j - i > best[0]:
            best = (j - i, i, j)
        i = j + 1
    length, first, end = best
    if not length or len(_seq(items[first:end], encoding, True)) < 2:
        return None
    lit = _seq(items[first:end], encoding, True)
    if first == 0:
        return re.compile(whole, bflags), _plain(items[first:end], encoding)
    prefix = _seq(items[:first], encoding, encoding == "utf-8")
    rest = _seq(items[end:], encoding, encoding == "utf-8")
    try:
        return re.compile(lit + b"(?<=" + prefix + lit + b")" + rest, bflags), _plain(items[first:end], encoding)
    except re.error:  # the prefix has no fixed width
        return None


def _plain(items: list[Any], enc: str) -> bytes:
    return "".join(chr(av) for _op, av in items).encode(enc)


def _seq(items: list[Any], enc: str, boundaries: bool) -> bytes:
    return b"".join(_item(op, av, enc, boundaries) for op, av in items)


def _item(op: Any, av: Any, enc: str, boundaries: bool) -> bytes:
    if op is _c.LITERAL:
        if av in (10, 13):
            raise _Unsafe
        raw = chr(av).encode(enc)
        return re.escape(raw) if len(raw) == 1 else b"(?:" + re.escape(raw) + b")"
    if op is _c.IN:
        return b"[" + b"".join(_class_item(o, a) for o, a in av) + b"]"
    if op in _REPEATS:
        lo, hi, sub = av
        top = b"" if hi is _c.MAXREPEAT else str(hi).encode()
        return b"(?:" + _seq(list(sub), enc, boundaries) + b"){%d,%s}" % (lo, top) + _REPEATS[op]
    if op is _c.SUBPATTERN:
        _group, add, remove, sub = av
        if remove or add & ~re.IGNORECASE:
            raise _Unsafe
        return (b"(?i:" if add else b"(?:") + _seq(list(sub), enc, boundaries) + b")"
    if op is _c.BRANCH:
        return b"(?:" + b"|".join(_seq(list(b), enc, boundaries) for b in av[1]) + b")"
    if op is _c.AT and av in _AT and (boundaries or av is _c.AT_BEGINNING):
        return _AT[av]
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return b"(?>" + _seq(list(av), enc, boundaries) + b")"
    raise _Unsafe


def _class_item(op: Any, av: Any) -> bytes:
    if op is _c.LITERAL and av < 0x80 and av not in (10, 13):
        return re.escape(bytes([av]))
    if op is _c.RANGE and av[1] < 0x80 and not av[0] <= 10 <= av[1] and not av[0] <= 13 <= av[1]:
        return re.escape(bytes([av[0]])) + b"-" + re.escape(bytes([av[1]]))
    if op is _c.CATEGORY and av in _CATEGORY:
        return _CATEGORY[av]
    raise _Unsafe
