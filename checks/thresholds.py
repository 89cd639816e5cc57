"""Nagios threshold ranges: `10`, `10:`, `~:10`, `10:20`, `@10:20`.

A range describes the values that are *fine*; a value outside it raises the alert, or inside it
with a leading `@` (Nagios plugin development guidelines, "Threshold and ranges").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

from checks.model import Status


@dataclass(frozen=True)
class Range:
    """A Nagios range: alert outside [start, end], or inside it with '@'."""

    start: float = 0.0
    end: float = math.inf
    inside: bool = False  # '@': alert when start <= value <= end
    text: str = ""

    @classmethod
    def parse(cls, spec: Union[str, int, float, Range]) -> Range:
        if isinstance(spec, Range):
            return spec
        if isinstance(spec, bool):
            raise ValueError(f"not a threshold range: {spec!r}")
        if isinstance(spec, (int, float)):
            return cls(0.0, float(spec), False, _fmt(spec))
        text = str(spec).strip()
        body = text
        inside = body.startswith("@")
        if inside:
            body = body[1:]
        if not body:
            raise ValueError(f"empty threshold range: {spec!r}")
        try:
            if ":" in body:
                lo, hi = body.split(":", 1)
                start = -math.inf if lo == "~" else (float(lo) if lo else 0.0)
                end = float(hi) if hi else math.inf
            else:
                start, end = 0.0, float(body)
        except ValueError:
            raise ValueError(
                f"not a threshold range: {spec!r} (use 10, 10:, ~:10, 10:20 or @10:20)") from None
        if start > end:
            raise ValueError(f"threshold range {spec!r}: start {start:g} is above end {end:g}")
        return cls(start, end, inside, text)

    def alerts(self, value: float) -> bool:
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def __str__(self) -> str:
        return self.text or f"{'@' if self.inside else ''}{_fmt(self.start)}:{_fmt(self.end)}"


def _fmt(v: float) -> str:
    if v == -math.inf:
        return "~"
    if v == math.inf:
        return ""
    return f"{v:g}"


RangeSpec = Union[str, int, float, Range, None]


def evaluate(value: float, warn: RangeSpec = None, crit: RangeSpec = None) -> Status:
    """CRITICAL if the critical range alerts, else WARNING if the warning range does, else OK."""
    if crit is not None and Range.parse(crit).alerts(value):
        return Status.CRITICAL
    if warn is not None and Range.parse(warn).alerts(value):
        return Status.WARNING
    return Status.OK


def as_text(spec: RangeSpec) -> Optional[str]:
    return None if spec is None else str(Range.parse(spec))
