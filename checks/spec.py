"""One configured check: the common keys every check has, plus its own options."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from checks.model import SYSTEM_LABELS_ZH
from checks.options import ConfigError, build, parse_duration
from checks.registry import check_class, known_types

COMMON_KEYS = ("name", "type", "system", "interval", "timeout", "enabled")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


@dataclass
class CheckSpec:
    """One configured check: its name, type, system, schedule and options."""

    name: str
    type: str
    system: str
    interval: float  # seconds
    timeout: float   # seconds
    options: Any     # the check's own Options dataclass
    enabled: bool = True


def parse_spec(raw: Any, where: str) -> CheckSpec:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}.name: {name!r} must be letters, digits, '-', '_' or '.' (max 128)")
    where = f"{where} ({name})"
    type_name = raw.get("type")
    if type_name not in known_types():
        raise ConfigError(f"{where}.type: {type_name!r} is not a check type ({', '.join(known_types())})")
    system = raw.get("system", "os")
    if system not in SYSTEM_LABELS_ZH:
        raise ConfigError(f"{where}.system: {system!r} is not one of {', '.join(SYSTEM_LABELS_ZH)}")
    try:
        interval = parse_duration(raw.get("interval", "60s"))
        timeout = parse_duration(raw.get("timeout", min(interval, 30.0)))
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None
    if interval < 1:
        raise ConfigError(f"{where}.interval: at least 1s")
    if timeout <= 0:
        raise ConfigError(f"{where}.timeout: must be positive")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}.enabled: expected true or false")
    cls = check_class(type_name)
    own = {k: v for k, v in raw.items() if k not in COMMON_KEYS}
    options = build(cls.Options, own, where)
    return CheckSpec(name=name, type=type_name, system=system, interval=interval, timeout=timeout,
                     options=options, enabled=enabled)
