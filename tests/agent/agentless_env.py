"""Poller targets pointing at this machine through the real loopback sshd (tests/helpers/sshd.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from agent.agentless.config import parse_poller_config
from agent.agentless.poller import Target
from checks.base import StateStore
from checks.runner import instantiate, run_check
from checks.spec import parse_spec
from tests.helpers.sshd import Sshd


def known_hosts(tmp_path: Path, *servers: Sshd) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text("".join(s.known_hosts_line() for s in servers))
    return path


def poller_doc(tmp_path: Path, targets: list[dict[str, Any]], *, key: Path, known: Optional[Path],
               url: str = "http://127.0.0.1:9", **extra: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {"user": "root", "key": str(key), "connect_timeout": "5s"}
    if known is not None:
        defaults["known_hosts"] = str(known)
    return {"collector": {"url": url}, "state_dir": str(tmp_path / "poller"), "defaults": defaults,
            "targets": [{"token": "t", **t} for t in targets], **extra}


def make_target(tmp_path: Path, sshd: Sshd, key: Path, checks: list[dict[str, Any]], name: str = "loop",
                known: Optional[Path] = None, **ssh: Any) -> Target:
    known = known if known is not None else known_hosts(tmp_path, sshd)
    doc = poller_doc(tmp_path, [{"name": name, "address": "127.0.0.1", "port": sshd.port, "checks": checks,
                                 **ssh}], key=key, known=known)
    return Target(parse_poller_config(doc).targets[0])


class Local:
    """The same checks run the agent's way on this machine, with their own state."""

    def __init__(self, tmp_path: Path, checks: list[dict[str, Any]]) -> None:
        self.specs = {c["name"]: parse_spec(c, c["name"]) for c in checks}
        self.checks = {n: instantiate(s, StateStore(tmp_path / "local" / f"{n}.json"))
                       for n, s in self.specs.items()}

    def run(self, name: str) -> Any:
        return run_check(self.checks[name], self.specs[name], "local")


def by_name(results: list[Any]) -> dict[str, Any]:
    return {r.check: r for r in results}


def metrics(result: Any, skip: tuple[str, ...] = ()) -> dict[str, tuple[float, str, Any, Any]]:
    return {m.name: (m.value, m.unit, m.warn, m.crit) for m in result.metrics if m.name not in skip}
