"""Every hit of several literals in a block in one pass, through ahocorasick-rs when installed.

ahocorasick-rs (the optional `fast` extra) wraps Rust's aho-corasick crate, whose SIMD searchers
(Teddy for a few literals, memchr's memmem for one; SSSE3/AVX2 on x86-64, NEON on ARM64) find
`ERROR` and `凭证发送失败` together faster than glibc `memmem` finds either alone. Without it (not
installed, an old version, or XUNJIAN_LOG_NO_AHOCORASICK=1) the matcher searches each literal in
turn with memmem/bytes.find and finds the same lines.

The search is leftmost-first and non-overlapping: a hit hides a hit of another literal that
overlaps it. The hidden hit is on the same line (literals holding a newline get a searcher of
their own), so only its severity could be lost: literals of different severities that can overlap
go to separate searchers.
"""
from __future__ import annotations

import os
from typing import Any, Optional

ENV_OFF = "XUNJIAN_LOG_NO_AHOCORASICK"
# With fewer distinct first bytes than this, aho-corasick prefers a first-byte prefilter to Teddy,
# slow here where 0xE5 (most Chinese characters in UTF-8) is everywhere (docs/benchmarks.md);
# padding with literals that cannot occur next to a real one restores Teddy.
MIN_FIRST_BYTES = 4

_MODULE: Any = False  # False: not looked for yet; None: unavailable


def engine() -> Any:
    """The ahocorasick_rs module, or None."""
    global _MODULE
    if _MODULE is False:
        _MODULE = None
        if not os.environ.get(ENV_OFF):
            try:
                import ahocorasick_rs
            except ImportError:
                pass
            else:
                if hasattr(ahocorasick_rs, "BytesAhoCorasick") and hasattr(ahocorasick_rs, "MatchKind"):
                    _MODULE = ahocorasick_rs
    return _MODULE


def can_overlap(a: bytes, b: bytes) -> bool:
    """Can an occurrence of `a` and one of `b` share a byte of the haystack?"""
    if a in b or b in a:
        return True
    return any(a.endswith(b[:k]) or b.endswith(a[:k]) for k in range(1, min(len(a), len(b))))


def self_overlaps(a: bytes) -> bool:
    """Can two occurrences of `a` overlap (`abab` in `ababab`)? Then a non-overlapping search
    skips one of them."""
    return any(a.endswith(a[:k]) for k in range(1, len(a)))


def groups(needles: list[bytes], severities: list[Any]) -> list[list[int]]:
    """Indexes of `needles` split so that no two in a group can hide each other's severity."""
    out: list[list[int]] = []
    for i, (n, sev) in enumerate(zip(needles, severities)):
        for g in out:
            if not any(_conflict(n, sev, needles[j], severities[j]) for j in g):
                g.append(i)
                break
        else:
            out.append([i])
    return out


def _conflict(a: bytes, sa: Any, b: bytes, sb: Any) -> bool:
    if b"\n" in a or b"\n" in b:
        return True
    return sa != sb and can_overlap(a, b)


def padding(needles: list[bytes]) -> list[bytes]:
    """Literals of bytes that no needle holds: none of their hits can overlap a needle's."""
    if len(needles) < 2:
        return []  # one literal: memchr's memmem, no padding wanted
    firsts = {n[0] for n in needles}
    used = set(b"".join(needles))
    free = [b for b in range(255, 127, -1) if b not in used]
    out: list[bytes] = []
    while len(firsts) < MIN_FIRST_BYTES and len(free) >= 2:
        a, b = free.pop(0), free.pop(0)
        out.append(bytes([a, b]))
        firsts.add(a)
    return out


class Searcher:
    """One compiled searcher. `find(buffer)` -> [(index, start, end)] of every non-overlapping
    hit, leftmost first; an index >= `real` is a padding literal's (skip it)."""

    def __init__(self, module: Any, needles: list[bytes]) -> None:
        self.real = len(needles)
        ac = module.BytesAhoCorasick(needles + padding(needles), matchkind=module.MatchKind.LeftmostFirst)
        self.find = ac.find_matches_as_indexes


def searchers(needles: list[bytes], keys: list[Any]) -> Optional[list[tuple[Searcher, list[int]]]]:
    """Searchers covering `needles` (each with the needle indexes it holds), or None without the
    engine. Needles whose `keys` (severities) differ are kept apart when they can overlap."""
    module = engine()
    if module is None or not needles:
        return None
    return [(Searcher(module, [needles[i] for i in g]), g) for g in groups(needles, keys)]
