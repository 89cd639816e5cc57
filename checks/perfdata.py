"""Nagios plugin output: the summary line, long text and performance data.

Output format (Nagios plugin development guidelines):

    TEXT OUTPUT | PERFDATA
    LONG TEXT LINE 1
    LONG TEXT LINE 2 | PERFDATA LINE 2
    PERFDATA LINE 3

Perfdata items are `'label'=value[UOM];[warn];[crit];[min];[max]`, space separated; a quoted
label may hold spaces and `''` for a quote. Parsing is lenient: a malformed item is skipped and
named in `errors`, the rest is kept (plugins in the wild are sloppy).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Optional

from checks.model import MAX_NAME_LEN, Metric
from checks.thresholds import Range

_NUMBER = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
_VALUE = re.compile(rf"^({_NUMBER})([^\d;]*)$")
_BARE_NUMBER = re.compile(rf"^({_NUMBER})[A-Za-z%]*$")

# UOM -> (unit of the Metric, factor). Sizes are 1024-based as check_disk and friends count.
UNITS = {
    "": ("", 1.0), "c": ("", 1.0), "%": ("%", 1.0),
    "s": ("s", 1.0), "ms": ("s", 1e-3), "us": ("s", 1e-6),
    "B": ("B", 1.0), "KB": ("B", 1024.0), "MB": ("B", 1024.0**2), "GB": ("B", 1024.0**3),
    "TB": ("B", 1024.0**4),
}


@dataclass
class PerfValue:
    label: str
    value: Optional[float]  # None when the plugin wrote U (could not measure)
    uom: str = ""
    warn: Optional[str] = None
    crit: Optional[str] = None
    min: Optional[float] = None
    max: Optional[float] = None

    def to_metric(self) -> Optional[Metric]:
        """The value in the project's units (ms -> s, MB -> B); None for `U`."""
        if self.value is None:
            return None
        unit, factor = UNITS.get(self.uom, (self.uom, 1.0))
        return Metric(name=self.label[:MAX_NAME_LEN], value=self.value * factor, unit=unit,
                      warn=_scale_range(self.warn, factor), crit=_scale_range(self.crit, factor),
                      min=None if self.min is None else self.min * factor,
                      max=None if self.max is None else self.max * factor)


@dataclass
class PluginOutput:
    summary: str
    long_text: list[str] = field(default_factory=list)
    perfdata: list[PerfValue] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # perfdata items that could not be read


def parse_output(text: str) -> PluginOutput:
    """Split plugin output into summary, long text and parsed perfdata."""
    lines = text.splitlines()
    if not lines:
        return PluginOutput("")
    summary, _, perf = lines[0].partition("|")
    long_text: list[str] = []
    perf_parts = [perf]
    rest = lines[1:]
    for i, line in enumerate(rest):
        if "|" in line:
            head, _, tail = line.partition("|")
            if head.strip():
                long_text.append(head.rstrip())
            perf_parts.append(tail)
            perf_parts.extend(rest[i + 1:])
            break
        long_text.append(line.rstrip())
    values, errors = parse_perfdata(" ".join(perf_parts))
    return PluginOutput(summary.strip(), long_text, values, errors)


def parse_perfdata(text: str) -> tuple[list[PerfValue], list[str]]:
    values: list[PerfValue] = []
    errors: list[str] = []
    for label, spec, raw in _items(text):
        if label is None:
            errors.append(raw)
            continue
        value = _parse_item(label, spec)
        if value is None:
            errors.append(raw)
        else:
            values.append(value)
    return values, errors


def _items(text: str) -> list[tuple[Optional[str], str, str]]:
    """(label, value part, raw item) for each item; label None when the item is malformed."""
    items: list[tuple[Optional[str], str, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        label_chars: list[str] = []
        ok = True
        if text[i] == "'":
            i += 1
            while True:
                if i >= n:  # unterminated quote: this item is bad up to the next space
                    i = start
                    ok = False
                    break
                if text[i] == "'":
                    if i + 1 < n and text[i + 1] == "'":
                        label_chars.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                label_chars.append(text[i])
                i += 1
            ok = ok and i < n and text[i] == "="
        else:
            while i < n and text[i] != "=" and not text[i].isspace():
                label_chars.append(text[i])
                i += 1
            ok = i < n and text[i] == "=" and bool(label_chars)
        if not ok:
            while i < n and not text[i].isspace():
                i += 1
            items.append((None, "", text[start:i]))
            continue
        i += 1  # the '='
        spec_start = i
        while i < n and not text[i].isspace():
            i += 1
        items.append(("".join(label_chars), text[spec_start:i], text[start:i]))
    return items


def _parse_item(label: str, spec: str) -> Optional[PerfValue]:
    fields = spec.split(";")
    head = fields[0]
    if head == "U":
        value, uom = None, ""
    else:
        m = _VALUE.match(head)
        if not m:
            return None
        value = _number(m.group(1))
        uom = m.group(2)
        if value is None:
            return None
    fields += [""] * (5 - len(fields))
    return PerfValue(label=label, value=value, uom=uom,
                     warn=_range_text(fields[1]), crit=_range_text(fields[2]),
                     min=_bare(fields[3]), max=_bare(fields[4]))


def _number(text: str) -> Optional[float]:
    try:
        v = float(text.replace(",", "."))  # some locales write 0,5
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _bare(text: str) -> Optional[float]:
    m = _BARE_NUMBER.match(text.strip())
    return _number(m.group(1)) if m else None


def _range_text(text: str) -> Optional[str]:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        Range.parse(text)
    except ValueError:
        return None  # a threshold we cannot read is dropped, the value is kept
    return text


def _scale_range(text: Optional[str], factor: float) -> Optional[str]:
    """A threshold range in the metric's converted unit: '80:' MB -> '83886080:' B."""
    if text is None or factor == 1.0:
        return text
    r = Range.parse(text)
    if r.start == 0 and not math.isinf(r.end):
        body = _fmt(r.end * factor)
    else:
        low = "~" if math.isinf(r.start) else _fmt(r.start * factor)
        body = f"{low}:{'' if math.isinf(r.end) else _fmt(r.end * factor)}"
    return ("@" if r.inside else "") + body


def _fmt(v: float) -> str:
    return str(int(v)) if v.is_integer() else f"{v:.12g}"
