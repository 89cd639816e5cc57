"""Validated check options without pydantic (the agent stays light).

Each check declares its options as a dataclass; `build()` turns a YAML mapping into it, coercing
durations ("30s", "5m"), sizes ("64MiB") and threshold ranges, and refusing unknown or mistyped
keys with a message that names the check and the key.
"""
from __future__ import annotations

import dataclasses
import math
import re
import sys
import typing
from typing import Any, TypeVar, Union

from checks.thresholds import Range

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration the agent refuses, with a message an engineer can act on."""


class Duration(float):
    """Seconds; written as 30, "30s", "5m", "1h", "2d" or "500ms"."""


class Size(int):
    """Bytes; written as 1024, "64KiB", "10MB", "1GiB"."""


class Threshold(str):
    """A Nagios range, validated when the config is loaded."""


_DUR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.I)
_DUR_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024,
               "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "mi": 1024**2,
               "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
               "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4}


# Bounds that keep a value usable downstream: a wait longer than threading.TIMEOUT_MAX raises, and the
# spool stores sizes in SQLite's 64-bit integers.
MAX_DURATION = 3650 * 86400.0  # ten years
MAX_SIZE = 2**60               # 1 EiB


def parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value) if not isinstance(value, int) or abs(value) <= MAX_DURATION else math.inf
    else:
        m = _DUR.match(str(value))
        if not m:
            raise ValueError(f"not a duration: {str(value)[:40]!r} (use 30s, 5m, 1h, 2d)")
        unit = m.group(2).lower() if m.group(2) else None
        seconds = float(m.group(1)) * _DUR_UNITS[unit]
    if math.isnan(seconds):
        raise ValueError("not a duration: NaN (use 30s, 5m, 1h, 2d)")
    if abs(seconds) > MAX_DURATION:
        raise ValueError(f"duration out of range: {str(value)[:40]!r} (at most 3650d)")
    return seconds


def parse_size(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        size: float = value if abs(value) <= MAX_SIZE else math.inf
    elif isinstance(value, float):
        size = value
    else:
        m = _SIZE.match(str(value))
        if not m:
            raise ValueError(f"not a size: {str(value)[:40]!r} (use 512KiB, 64MiB, 1GiB)")
        size = float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower()]
    if math.isnan(size):
        raise ValueError("not a size: NaN (use 512KiB, 64MiB, 1GiB)")
    if abs(size) > MAX_SIZE:
        raise ValueError(f"size out of range: {str(value)[:40]!r} (at most 1EiB)")
    return int(size)


def build(cls: type[T], data: Any, where: str) -> T:
    """Build the options dataclass `cls` from a mapping; `where` prefixes every error."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    aliases = getattr(cls, "ALIASES", {})
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    kwargs: dict[str, Any] = {}
    for key, raw in data.items():
        name = aliases.get(key, key)
        if name not in fields:
            import difflib  # only for an error message
            close = difflib.get_close_matches(str(key), list(fields) + list(aliases), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown option {key!r}{hint}")
        try:
            kwargs[name] = _coerce(hints[name], raw)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}.{key}: {e}") from None
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where}: missing option(s) {', '.join(missing)}")
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
    return obj


def _coerce(tp: Any, raw: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Union:
        if raw is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, raw)
            except (TypeError, ValueError) as e:
                errors.append(str(e))
        raise ValueError("; ".join(errors))
    if origin is typing.Literal:
        if raw not in args:
            raise ValueError(f"must be one of {', '.join(map(repr, args))}, got {raw!r}")
        return raw
    if origin in (list, tuple):
        if isinstance(raw, (str, bytes)) or not isinstance(raw, (list, tuple)):
            if origin is list and isinstance(raw, str):
                raw = [raw]  # a single pattern or path is a list of one
            else:
                raise ValueError(f"expected a list, got {raw!r}")
        item = args[0] if args else Any
        return [_coerce(item, x) for x in raw]
    if origin is dict:
        if not isinstance(raw, dict):
            raise ValueError(f"expected a mapping, got {raw!r}")
        kt, vt = args if args else (Any, Any)
        return {_coerce(kt, k): _coerce(vt, v) for k, v in raw.items()}
    if tp is Any:
        return raw
    if tp is Duration:
        return Duration(parse_duration(raw))
    if tp is Size:
        return Size(parse_size(raw))
    if tp is Threshold:
        Range.parse(raw)
        return Threshold(str(raw))
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        raise ValueError(f"expected true or false, got {raw!r}")
    if tp is int:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or int(raw) != raw:
            raise ValueError(f"expected a whole number, got {raw!r}")
        return int(raw)
    if tp is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise ValueError(f"expected a number, got {raw!r}")
        return float(raw)
    if tp is str:
        if isinstance(raw, (dict, list)) or raw is None:
            raise ValueError(f"expected text, got {raw!r}")
        return str(raw)
    if dataclasses.is_dataclass(tp):
        return build(tp, raw, tp.__name__)
    return raw
