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
    auto_resolve: bool = True
    severity: dict[Status, str] = field(default_factory=lambda: dict(SEVERITY_BY_STATUS))


@dataclass
class Decision:
    action: Action
    consecutive_bad: int
    severity: str = ""


def decide(*, status: Status, consecutive_bad: int, ticket_active: bool, config: RuleConfig) -> Decision:
    """What one new result means for the fault's ticket."""
    if status == Status.OK:
        if ticket_active:
            return Decision(Action.RESOLVE if config.auto_resolve else Action.RECOVERED, 0)
        return Decision(Action.NONE, 0)
    bad = consecutive_bad + 1
    severity = config.severity.get(status, "warning")
    if ticket_active:
        return Decision(Action.OCCURRENCE, bad, severity)
    if bad >= config.consecutive_bad:
        return Decision(Action.OPEN, bad, severity)
    return Decision(Action.NONE, bad, severity)


def check_fault_key(host: str, check: str) -> str:
    return f"check:{host}:{check}"


def agent_fault_key(host: str) -> str:
    return f"agent:{host}"
