"""Rules that turn a check's results into ticket actions. Pure: no database, no clock.

The collector feeds each new result of a (host, check) in time order together with what it knows
(consecutive bad results so far, whether a ticket is active) and applies the returned action.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from checks.model import Status


class Action(str, enum.Enum):
    NONE = "none"
    OPEN = "open"              # open a ticket for this fault
    OCCURRENCE = "occurrence"  # attach the bad result to the active ticket
    RESOLVE = "resolve"        # the check is OK again: resolve with a recovery note
    RECOVERED = "recovered"    # OK again, but an engineer confirms: mark "recovered, awaiting engineer"


SEVERITY_BY_STATUS = {Status.CRITICAL: "critical", Status.WARNING: "warning", Status.UNKNOWN: "warning"}


@dataclass
class RuleConfig:
    consecutive_bad: int = 1  # bad results in a row before a ticket opens
    # OK results in a row before a ticket recovers: one quiet run of a log check, or one good sample
    # between two bad ones, is not yet a recovery (hysteresis, as Zabbix recovery expressions do).
    recover_after: int = 3
    auto_resolve: bool = True
    severity: dict[Status, str] = field(default_factory=lambda: dict(SEVERITY_BY_STATUS))


@dataclass
class Decision:
    action: Action
    consecutive_bad: int
    consecutive_ok: int
    severity: str = ""


def decide(*, status: Status, consecutive_bad: int, consecutive_ok: int, ticket_active: bool,
           config: RuleConfig) -> Decision:
    """What one new result means for the fault's ticket, given the run of results before it."""
    if status == Status.OK:
        ok = consecutive_ok + 1
        if ticket_active and ok >= config.recover_after:
            return Decision(Action.RESOLVE if config.auto_resolve else Action.RECOVERED, 0, ok)
        return Decision(Action.NONE, 0, ok)
    bad = consecutive_bad + 1
    severity = config.severity.get(status, "warning")
    if ticket_active:
        return Decision(Action.OCCURRENCE, bad, 0, severity)
    if bad >= config.consecutive_bad:
        return Decision(Action.OPEN, bad, 0, severity)
    return Decision(Action.NONE, bad, 0, severity)


def check_fault_key(host: str, check: str) -> str:
    return f"check:{host}:{check}"


def agent_fault_key(host: str) -> str:
    return f"agent:{host}"
