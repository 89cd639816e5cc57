"""Line breaking for the report's fixed-width cells: CJK may break anywhere, a Latin word moves down
whole when it fits on a line of its own (as reportlab's CJK paragraphs do)."""
from __future__ import annotations

from collections.abc import Callable


def break_lines(text: str, limit: float, width_of: Callable[[str], float]) -> list[str]:
    """`text` as lines whose summed `width_of` characters stay within `limit`."""
    out: list[str] = []
    for para in text.split("\n"):
        line: list[str] = []
        used, last_space = 0.0, -1
        for ch in para:
            w = width_of(ch)
            if used + w > limit and line:
                if ch != " " and last_space > 0 and ord(ch) < 0x2E80:  # Latin word: move it down whole
                    rest = line[last_space + 1:]
                    out.append("".join(line[:last_space]))
                    line, used = rest, sum(width_of(c) for c in rest)
                else:
                    out.append("".join(line))
                    line, used = [], 0.0
                last_space = -1
                if ch == " " and not line:
                    continue
            if ch == " ":
                last_space = len(line)
            line.append(ch)
            used += w
        out.append("".join(line))
    return out
