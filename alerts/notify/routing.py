"""Which channels hear about a notification: ordered routes, first match wins (unless `continue`);
the keys and an example: docs/notifications.md. Routing applies to single notifications; digests are
made per channel after routing.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase
from typing import Any, Optional

from pydantic import Field

from alerts.notify.config import Options, Texts, load
from alerts.notify.message import KINDS, Notification, parse_severity, severity_rank
from checks.model import SYSTEM_LABELS_ZH
from checks.options import ConfigError


class Match(Options):
    unit: Texts = Field(default_factory=list)
    system: Texts = Field(default_factory=list)
    host: Texts = Field(default_factory=list)
    kind: Texts = Field(default_factory=list)
    min_severity: Optional[str] = None

    def check(self) -> None:
        for k in self.kind:
            if k not in KINDS:
                raise ValueError(f"kind {k!r} is not one of {', '.join(KINDS)}")
        if self.min_severity is not None:
            self.min_severity = parse_severity(self.min_severity)

    @property
    def is_catch_all(self) -> bool:
        return not (self.unit or self.system or self.host or self.kind or self.min_severity)

    def matches(self, n: Notification) -> bool:
        if self.unit and not any(fnmatchcase(n.unit, p) for p in self.unit):
            return False
        if self.host and not any(fnmatchcase(n.host, p) for p in self.host):
            return False
        if self.system:
            names = {n.system, SYSTEM_LABELS_ZH.get(n.system, n.system)}
            if not any(fnmatchcase(name, p) for p in self.system for name in names):
                return False
        if self.kind and n.kind not in self.kind:
            return False
        if self.min_severity and severity_rank(n.severity) < severity_rank(self.min_severity):
            return False
        return True


class Route(Options):
    channels: Texts = Field(default_factory=list)
    match: Match = Field(default_factory=Match)
    continue_: bool = Field(False, alias="continue")   # `continue: true`: also try the routes after this one

    def check(self) -> None:
        if not self.channels:
            raise ValueError("a route needs at least one channel")


class Router:
    """Routes validated against the known channel names."""

    def __init__(self, routes: Sequence[Route], channel_names: Optional[Iterable[str]] = None,
                 where: str = "notify.routes") -> None:
        self.routes = list(routes)
        known = set(channel_names) if channel_names is not None else None
        for i, r in enumerate(self.routes):
            if known is not None:
                for name in r.channels:
                    if name not in known:
                        raise ConfigError(f"{where}[{i}].channels: unknown channel {name!r} "
                                          f"(known: {', '.join(sorted(known)) or 'none'})")
            if r.match.is_catch_all and not r.continue_ and i != len(self.routes) - 1:
                raise ConfigError(f"{where}[{i}]: a route without match catches everything; "
                                  f"the routes after it would never be used (put it last)")

    def route(self, n: Notification) -> list[str]:
        """Channel names in route order, each once; [] when no route matches."""
        out: list[str] = []
        for r in self.routes:
            if r.match.matches(n):
                out += [c for c in r.channels if c not in out]
                if not r.continue_:
                    break
        return out


def build_routes(data: Any, channel_names: Optional[Iterable[str]] = None,
                 where: str = "notify.routes") -> Router:
    if data is None:
        data = []
    if not isinstance(data, list):
        raise ConfigError(f"{where}: expected a list of routes")
    routes = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ConfigError(f"{where}[{i}]: expected a mapping")
        rest = {k: v for k, v in item.items() if k != "match"}
        match = load(Match, item.get("match"), f"{where}[{i}].match")
        routes.append(load(Route, rest, f"{where}[{i}]").model_copy(update={"match": match}))
    return Router(routes, channel_names, where)
