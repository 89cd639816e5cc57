"""SLA policy: which response target applies to a case, its due time and its state.

Rules (all durations configurable under `sla:` in the collector config, see `SlaPolicy.from_dict`):

- A case's response target comes from its channel, in working hours: phone 2 h, e-mail 4 h,
  on-site 2 h, remote 2 h (on-site/remote default to the phone target: they start from a call).
- Auto tickets (channel "auto", opened from an anomaly) map their severity to a channel-like rule:
  critical → like phone and urgent; warning → like e-mail; unknown → like e-mail. A severity with
  no rule uses the `auto` target (4 working h).
- Urgent case reported OUTSIDE working time (evening, weekend, holiday): 4 clock hours from the
  report time (`urgent.outside_hours`); every hour counts, pauses excepted.
- Urgent case reported INSIDE working time: working hours, the sooner of its channel's target and
  2 working h (`urgent.inside_hours_cap`). The contract says so, so that is the default; note that a
  case reported at 17:30 on a Friday is then due Monday 09:30 while the same case at 18:01 is due
  22:01. Set `urgent.clock_cap_inside_hours: true` to also cap it at report time + 4 clock hours
  (whichever due time is sooner wins, decided at report time).
- Pending (waiting for the customer) pauses the clock: paused time does not count and pushes the
  due time (see `collector.sla.clock` for open pauses).
- State: responded by the due time → "met", after → "breached"; not responded: past due →
  "breached"; clock paused (pause began before the due time) → "pending"; otherwise "due_soon" when
  at least `due_soon.fraction` (75 %) of the target has elapsed or at most `due_soon.before`
  (30 min) is left (measured on the target's basis: working or clock time), else "pending".
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Union

from checks.model import Status
from checks.options import ConfigError, parse_duration
from collector.sla.calendar import WorkCalendar
from collector.sla.clock import (
    Pause,
    add_clock_time,
    add_working_time,
    clock_time_between,
    working_hours,
    working_time_between,
)

CHANNELS = ("phone", "email", "onsite", "remote", "auto")
CHANNEL_LABEL_ZH = {"phone": "电话", "email": "邮件", "onsite": "现场", "remote": "远程", "auto": "自动"}
State = Literal["met", "breached", "pending", "due_soon"]
Severity = Union[Status, str, int, None]


@dataclass(frozen=True)
class AutoRule:
    """How an auto ticket of one severity is treated: like a case of channel `like`, maybe urgent."""

    like: str
    urgent: bool = False


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


@dataclass(frozen=True)
class SlaPolicy:
    targets: Mapping[str, timedelta] = field(default_factory=lambda: {
        "phone": _h(2), "email": _h(4), "onsite": _h(2), "remote": _h(2), "auto": _h(4)})
    urgent_outside_hours: timedelta = timedelta(hours=4)  # clock hours from the report time
    urgent_inside_hours_cap: timedelta = timedelta(hours=2)  # working hours
    urgent_clock_cap_inside_hours: bool = False
    auto: Mapping[str, AutoRule] = field(default_factory=lambda: {
        "critical": AutoRule("phone", urgent=True), "warning": AutoRule("email"),
        "unknown": AutoRule("email")})
    due_soon_fraction: float = 0.75
    due_soon_before: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        missing = [c for c in CHANNELS if c not in self.targets]
        if missing:
            raise ConfigError(f"sla.targets: missing channel(s) {', '.join(missing)}")
        for name, td in [*self.targets.items(), ("urgent.outside_hours", self.urgent_outside_hours),
                         ("urgent.inside_hours_cap", self.urgent_inside_hours_cap)]:
            if td <= timedelta(0):
                raise ConfigError(f"sla: target {name} must be positive, got {td}")
        for sev, rule in self.auto.items():
            if rule.like not in CHANNELS or rule.like == "auto":
                raise ConfigError(f"sla.auto.{sev}: like must be one of phone, email, onsite, remote; "
                                  f"got {rule.like!r}")
        if not 0 < self.due_soon_fraction <= 1:
            raise ConfigError(f"sla.due_soon.fraction must be in (0, 1], got {self.due_soon_fraction}")
        if self.due_soon_before < timedelta(0):
            raise ConfigError(f"sla.due_soon.before must not be negative, got {self.due_soon_before}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SlaPolicy:
        """Build from the collector config's `sla` mapping; omitted keys keep their defaults.

        targets: {phone: 2h, email: 4h, onsite: 2h, remote: 2h, auto: 4h}   # working hours
        urgent: {outside_hours: 4h, inside_hours_cap: 2h, clock_cap_inside_hours: false}
        auto: {critical: {like: phone, urgent: true}, warning: email, unknown: email}
        due_soon: {fraction: 0.75, before: 30m}
        (a `calendar` key is accepted and ignored here: it is WorkCalendar.from_config's)
        """
        data = dict(data or {})
        _only(data, "sla", ("targets", "urgent", "auto", "due_soon", "calendar"))
        base = cls()
        kw: dict[str, Any] = {}
        targets = _mapping(data.get("targets"), "sla.targets")
        _only(targets, "sla.targets", CHANNELS)
        kw["targets"] = {**base.targets, **{k: _duration(v, f"sla.targets.{k}") for k, v in targets.items()}}
        urgent = _mapping(data.get("urgent"), "sla.urgent")
        _only(urgent, "sla.urgent", ("outside_hours", "inside_hours_cap", "clock_cap_inside_hours"))
        if "outside_hours" in urgent:
            kw["urgent_outside_hours"] = _duration(urgent["outside_hours"], "sla.urgent.outside_hours")
        if "inside_hours_cap" in urgent:
            kw["urgent_inside_hours_cap"] = _duration(urgent["inside_hours_cap"],
                                                      "sla.urgent.inside_hours_cap")
        if "clock_cap_inside_hours" in urgent:
            flag = urgent["clock_cap_inside_hours"]
            if not isinstance(flag, bool):
                raise ConfigError(f"sla.urgent.clock_cap_inside_hours: expected true or false, got {flag!r}")
            kw["urgent_clock_cap_inside_hours"] = flag
        if "auto" in data:
            auto = dict(base.auto)
            for sev, raw in _mapping(data["auto"], "sla.auto").items():
                auto[_severity_key(sev, f"sla.auto.{sev}")] = _auto_rule(raw, f"sla.auto.{sev}")
            kw["auto"] = auto
        soon = _mapping(data.get("due_soon"), "sla.due_soon")
        _only(soon, "sla.due_soon", ("fraction", "before"))
        if "fraction" in soon:
            frac = soon["fraction"]
            if isinstance(frac, str) and frac.strip().endswith("%"):
                try:
                    frac = float(frac.strip()[:-1]) / 100
                except ValueError:
                    raise ConfigError(f"sla.due_soon.fraction: not a fraction: {frac!r}") from None
            if isinstance(frac, bool) or not isinstance(frac, (int, float)):
                raise ConfigError(f"sla.due_soon.fraction: expected a number like 0.75 or '75%', "
                                  f"got {frac!r}")
            kw["due_soon_fraction"] = float(frac)
        if "before" in soon:
            kw["due_soon_before"] = _duration(soon["before"], "sla.due_soon.before", allow_zero=True)
        return dataclasses.replace(base, **kw)


def _only(data: Mapping[str, Any], where: str, keys: Sequence[str]) -> None:
    unknown = [str(k) for k in data if k not in keys]
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (expected {', '.join(keys)})")


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    return dict(raw)


def _duration(raw: Any, where: str, *, allow_zero: bool = False) -> timedelta:
    try:
        seconds = parse_duration(raw)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ConfigError(f"{where}: must be positive, got {raw!r}")
    return timedelta(seconds=seconds)


def _severity_key(sev: Severity, where: str) -> str:
    try:
        return Status.parse(sev).name.lower()
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def _auto_rule(raw: Any, where: str) -> AutoRule:
    if isinstance(raw, str):
        raw = {"like": raw}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a channel name or {{like: phone, urgent: true}}, got {raw!r}")
    _only(raw, where, ("like", "urgent"))
    like, urgent = raw.get("like"), raw.get("urgent", False)
    if like not in ("phone", "email", "onsite", "remote"):
        raise ConfigError(f"{where}.like: expected phone, email, onsite or remote, got {like!r}")
    if not isinstance(urgent, bool):
        raise ConfigError(f"{where}.urgent: expected true or false, got {urgent!r}")
    return AutoRule(like, urgent)


@dataclass(frozen=True)
class ResponseTarget:
    """The target that applies to one case: `duration` of working time, or of clock time."""

    duration: timedelta
    working: bool  # True: working hours; False: clock hours (urgent outside working time)
    rule_zh: str  # for ticket text, e.g. "电话 2 个工作小时"


@dataclass(frozen=True)
class SlaSnapshot:
    target: ResponseTarget
    due_at: datetime
    state: State


@dataclass(frozen=True)
class Elapsed:
    """Response and resolution time in working hours (pauses excluded), for reports."""

    response: timedelta | None
    resolution: timedelta | None

    @property
    def response_hours(self) -> float | None:
        return None if self.response is None else working_hours(self.response)

    @property
    def resolution_hours(self) -> float | None:
        return None if self.resolution is None else working_hours(self.resolution)


def _fmt_hours(td: timedelta) -> str:
    h = td / timedelta(hours=1)
    return f"{h:g}" if h >= 1 else f"{td / timedelta(minutes=1):g} 分钟"


def response_target(policy: SlaPolicy, calendar: WorkCalendar, *, channel: str, urgent: bool = False,
                    severity: Severity = None, reported_at: datetime) -> ResponseTarget:
    """Resolve the rules of the module docstring for one case."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r} (expected {', '.join(CHANNELS)})")
    label, like, urgent = _rule_of(policy, channel, urgent, severity)
    base = policy.targets[like]
    if not urgent:
        return ResponseTarget(base, True, f"{label} {_fmt_hours(base)} 个工作小时")
    clock = ResponseTarget(policy.urgent_outside_hours, False,
                           f"紧急（非工作时间）{_fmt_hours(policy.urgent_outside_hours)} 小时")
    if not calendar.is_working_time(reported_at):
        return clock
    capped = min(base, policy.urgent_inside_hours_cap)
    working = ResponseTarget(capped, True, f"紧急 {label} {_fmt_hours(capped)} 个工作小时")
    if policy.urgent_clock_cap_inside_hours:
        by_clock = add_clock_time(reported_at, clock.duration, calendar=calendar)
        if by_clock < add_working_time(reported_at, capped, calendar=calendar):
            return ResponseTarget(clock.duration, False, f"紧急 {_fmt_hours(clock.duration)} 小时")
    return working


def _rule_of(policy: SlaPolicy, channel: str, urgent: bool, severity: Severity) -> tuple[str, str, bool]:
    """(label, the channel whose target applies, urgent) of a case; auto tickets map their severity."""
    label, like = CHANNEL_LABEL_ZH[channel], channel
    if channel == "auto":
        rule = policy.auto.get(_severity_key(severity, "severity")) if severity is not None else None
        if rule is not None:
            like, urgent = rule.like, urgent or rule.urgent
            label = f"自动（按{CHANNEL_LABEL_ZH[rule.like]}）"
    return label, like, urgent


WINDOW_KIND_ZH = {"incident": "故障处理", "upgrade": "系统升级"}


def window_target(policy: SlaPolicy, *, channel: str, urgent: bool = False, severity: Severity = None,
                  kind: str) -> ResponseTarget:
    """The target of a case reported inside a 7×24 window (`kind`: incident | upgrade): the duration it
    would have inside working hours (channel target, urgent capped), counted on the clock."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r} (expected {', '.join(CHANNELS)})")
    _label, like, urgent = _rule_of(policy, channel, urgent, severity)
    duration = policy.targets[like]
    if urgent:
        duration = min(duration, policy.urgent_inside_hours_cap)
    return ResponseTarget(duration, False, f"7×24（{WINDOW_KIND_ZH.get(kind, kind)}窗口）{_fmt_hours(duration)} 小时")


def _due(calendar: WorkCalendar, target: ResponseTarget, reported_at: datetime,
         pauses: Sequence[Pause], now: datetime | None) -> datetime:
    add = add_working_time if target.working else add_clock_time
    return add(reported_at, target.duration, pauses=pauses, now=now, calendar=calendar)


def response_due(policy: SlaPolicy, calendar: WorkCalendar, *, channel: str, urgent: bool = False,
                 severity: Severity = None, reported_at: datetime, pauses: Sequence[Pause] = (),
                 now: datetime | None = None) -> datetime:
    """The response due time (aware, Asia/Shanghai). With an open pause it is provisional (see clock)."""
    target = response_target(policy, calendar, channel=channel, urgent=urgent, severity=severity,
                             reported_at=reported_at)
    return _due(calendar, target, reported_at, pauses, now)


def sla_state(policy: SlaPolicy, calendar: WorkCalendar, *, due_at: datetime, responded_at: datetime | None,
              now: datetime, pauses: Sequence[Pause] = (), target: ResponseTarget | None = None) -> State:
    """"met" | "breached" | "pending" | "due_soon" (rules in the module docstring).

    Without `target` the remaining time is measured in working time and only `due_soon.before`
    applies; pass the case's `ResponseTarget` for clock-hour targets and the fraction rule.
    """
    if responded_at is not None:
        return "met" if responded_at <= due_at else "breached"
    for start, end in pauses:
        if start <= now and (end is None or end > now) and start < due_at:
            return "pending"  # clock stopped before the deadline: cannot be late while waiting
    if now > due_at:
        return "breached"
    between = clock_time_between if target is not None and not target.working else working_time_between
    remaining = between(now, due_at, pauses=pauses, now=now, calendar=calendar)
    if remaining <= policy.due_soon_before:
        return "due_soon"
    if target is not None and remaining <= target.duration * (1 - policy.due_soon_fraction):
        return "due_soon"
    return "pending"


def response_sla(policy: SlaPolicy, calendar: WorkCalendar, *, channel: str, urgent: bool = False,
                 severity: Severity = None, reported_at: datetime, responded_at: datetime | None,
                 now: datetime, pauses: Sequence[Pause] = ()) -> SlaSnapshot:
    """Target, due time and state of one case in one call (what the ticket service usually needs)."""
    target = response_target(policy, calendar, channel=channel, urgent=urgent, severity=severity,
                             reported_at=reported_at)
    due_at = _due(calendar, target, reported_at, pauses, now)
    state = sla_state(policy, calendar, due_at=due_at, responded_at=responded_at, now=now, pauses=pauses,
                      target=target)
    return SlaSnapshot(target, due_at, state)


def elapsed_working(calendar: WorkCalendar, *, reported_at: datetime, responded_at: datetime | None = None,
                    resolved_at: datetime | None = None, pauses: Sequence[Pause] = (),
                    now: datetime | None = None) -> Elapsed:
    """Response and resolution time in working time, paused time excluded (None when not reached)."""
    def span(end: datetime | None) -> timedelta | None:
        if end is None:
            return None
        return working_time_between(reported_at, end, pauses=pauses, now=now, calendar=calendar)

    return Elapsed(span(responded_at), span(resolved_at))
