"""Patterns run on raw bytes (whole-block regex, literal + match, bytes confirmation) find exactly
the lines whose decoded text matches the pattern, in UTF-8, GBK and GB18030."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.logtail.bytesregex import chunk_finder, to_bytes
from checks.logtail.matcher import MEMMEM_MIN, PATTERN_FLAGS, Matcher, compile_patterns, required_literals

PATTERNS = [r"\d{4}ms", r"slow response \d{4}ms", r"(?i)\b(error|fatal|panic)\b", r"^WARN\b", r"失败\d+",
            r"(timeout|refused) after \d+ms", r"[a-z]+ ERROR", r"\d+ms", r"凭证.*失败", r"ERROR", r"\bid=\d{3}\b",
            r"(?i)Slow Response", r"ms\b", r"x{2,}y", r"(?i:error) id="]
PIECES = [b"ERROR", b"error", b"Fatal", b"panic", b" ", b"ms", b"1234", b"12", b"9", b"slow response ",
          b"timeout after ", b"WARN", b"id=", b"abc", b"xx", b"y", b"\n", b"\r\n", b"\t",
          "失败".encode(), "失败".encode("gbk"), "凭证".encode("gbk"), "凭证".encode(), "１２３４".encode(),
          bytes([0x81, 0x45]), bytes([0xB0, 0x41]), b"\x81\x30\x81\x30", b"\xff", b"\xe5"]


def reference(data: bytes, pattern: str, encoding: str) -> set[int]:
    rx = re.compile(pattern, PATTERN_FLAGS)
    out, pos = set(), 0
    for line in data.split(b"\n")[:-1]:
        text = line.decode(encoding, "replace")
        if rx.search(text[:-1] if text.endswith("\r") else text):
            out.add(pos)
        pos += len(line) + 1
    return out


def matched(data: bytes, pattern: str, encoding: str) -> set[int]:
    matcher = Matcher(compile_patterns({"critical": [pattern]}, encoding, False), [], encoding)
    out = set()
    for ls, known in matcher.candidates(data, len(data)).items():
        le = data.find(b"\n", ls)
        if matcher.classify(data[ls:le], known)[0]:
            out.add(ls)
    return out


@settings(max_examples=80, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=50),
       encoding=st.sampled_from(["utf-8", "gbk", "gb18030"]))
def test_bytes_paths_agree_with_decoding_every_line(pieces: list[bytes], encoding: str) -> None:
    data = b"".join(pieces) + b"\n"
    for pattern in PATTERNS:
        assert matched(data, pattern, encoding) == reference(data, pattern, encoding), pattern


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
def test_large_blocks_through_memmem_agree(encoding: str) -> None:
    import random

    rnd = random.Random(11)
    lines, size = [], 0
    while size < 2 * MEMMEM_MIN:
        lines.append(b"".join(rnd.choice(PIECES[:-6]) for _ in range(rnd.randrange(1, 12))).replace(b"\n", b"")
                     + b"\n")
        size += len(lines[-1])
    data = b"".join(lines)
    for pattern in PATTERNS:
        got = matched(data, pattern, encoding)
        assert got == reference(data, pattern, encoding), pattern


# pattern -> (rewritten as bytes?, whole-block finder's literal or None)
CASES = {
    r"\d{4}ms": (True, b"ms"),
    r"slow response \d{4}ms": (True, b"slow response "),
    r"(?i)\b(error|fatal|panic)\b": (True, None),
    r"凭证.*失败": (False, None),       # `.`: one character, several bytes
    r"[^ ]+ERROR": (False, None),       # a negated class
    r"ERROR\s+x": (False, None),        # \s may cross a line
    r"failed$": (False, None),          # `$` before a CR
    r"(?<=a)b": (False, None),
    r"\d+ms": (True, None),             # no fixed width before the literal
}


@pytest.mark.parametrize(("pattern", "expected"), CASES.items())
def test_which_patterns_are_rewritten(pattern: str, expected: tuple[bool, bytes | None]) -> None:
    rewritten, literal = expected
    assert (to_bytes(pattern, PATTERN_FLAGS, "utf-8") is not None) == rewritten
    found = chunk_finder(pattern, PATTERN_FLAGS, "utf-8")
    assert (found[1] if found else None) == literal


def test_required_literals_inside_groups() -> None:
    assert required_literals(r"(?i)\b(error|fatal|panic)\b") == ["error", "fatal", "panic"]
    assert required_literals(r"(?:ab|cd)+xyz") == ["xyz"]
    assert required_literals(r"(voucher|seal)+ failed: (\d+)") == [" failed: "]
    assert required_literals(r"(a|b)\d") is None  # the parser turns a|b into a class
    assert required_literals(r"(?i:error) at x") == [" at x"]  # a scoped (?i) is no literal


def test_scoped_ignore_case_is_found() -> None:
    data = b"ERROR at x\nerror at y\nError at x\n"
    for pattern in (r"(?i:error) at x", r"(?i:error) at", r"(?i:error).*x"):
        assert matched(data, pattern, "utf-8") == reference(data, pattern, "utf-8") != set()
