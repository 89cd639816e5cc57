"""Which template versions a host runs and its effective checks: pure functions of the rollout state
(a Snapshot read at one generation) and the host's name and labels."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Optional

import orjson


@dataclass(frozen=True)
class Ver:
    number: int
    match: dict[str, str]
    priority: int
    checks: list[dict[str, Any]]


@dataclass(frozen=True)
class Rollout:
    name: str
    percent: int
    current: Ver
    previous: Optional[Ver]


@dataclass
class Snapshot:
    """Every template's rollout state at one generation of template_generation."""

    generation: int
    templates: list[Rollout] = field(default_factory=list)


@dataclass(frozen=True)
class Effective:
    """A host's merged template checks: the body agents receive, its version (= ETag) and the template
    versions it is made of."""

    version: str
    checks: list[dict[str, Any]]
    sources: dict[str, str]  # check name -> "template@vN"
    body: bytes

    @property
    def templates(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for src in self.sources.values():
            name, _, number = src.rpartition("@v")
            out[name] = int(number)
        return out


def bucket(host: str) -> int:
    """0..99, stable for a host name: a rollout to P percent reaches the hosts with bucket < P, the same
    hosts for every template and version (a fixed canary group)."""
    return int.from_bytes(hashlib.sha256(host.encode("utf-8", "surrogatepass")).digest()[:8], "big") % 100


def host_labels(unit: str, labels: Any) -> dict[str, str]:
    """The labels templates match on: the host's stored labels (enroll --label, unit, room) with the
    unit column as the authority for `unit`."""
    out = {str(k): str(v) for k, v in (labels or {}).items()} if isinstance(labels, dict) else {}
    if unit:
        out["unit"] = unit
    return out


def matches(match: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in match.items())


def version_for(r: Rollout, host: str) -> Optional[Ver]:
    """The version of `r` this host is on by the rollout (before matching its labels)."""
    return r.current if r.percent >= 100 or bucket(host) < r.percent else r.previous


def selection(snap: Snapshot, host: str, labels: dict[str, str]) -> tuple[tuple[str, int], ...]:
    """(template, version) pairs that apply to this host, highest priority first (then by name)."""
    chosen: list[tuple[int, str, int]] = []
    for r in snap.templates:
        v = version_for(r, host)
        if v is not None and matches(v.match, labels):
            chosen.append((-v.priority, r.name, v.number))
    chosen.sort()
    return tuple((name, number) for _, name, number in chosen)


def merge(snap: Snapshot, picked: tuple[tuple[str, int], ...]) -> Effective:
    """The effective checks of a selection: on a name clash the higher priority (earlier) wins."""
    by_name = {r.name: r for r in snap.templates}
    checks: list[dict[str, Any]] = []
    sources: dict[str, str] = {}
    for name, number in picked:
        r = by_name[name]
        v = r.current if r.current.number == number else r.previous
        assert v is not None and v.number == number
        for check in v.checks:
            if check["name"] not in sources:
                sources[check["name"]] = f"{name}@v{number}"
                checks.append(check)
    canon = orjson.dumps({"checks": checks, "sources": sources}, option=orjson.OPT_SORT_KEYS)
    version = hashlib.sha256(canon).hexdigest()[:32]
    body = orjson.dumps({"version": version, "checks": checks, "sources": sources})
    return Effective(version=version, checks=checks, sources=sources, body=body)
