from __future__ import annotations

from datetime import timedelta

import pytest
from sla_helpers import sh

from checks.model import Status
from checks.options import ConfigError
from collector.sla.policy import (
    AutoRule,
    SlaPolicy,
    elapsed_working,
    response_due,
    response_sla,
    response_target,
    sla_state,
)

H = timedelta(hours=1)
P = SlaPolicy()


def due(cal, **kw):
    kw.setdefault("urgent", False)
    return response_due(P, cal, **kw)


def test_channel_targets(cal):
    wed11 = sh(2026, 11, 25, 11)
    assert due(cal, channel="phone", reported_at=wed11) == sh(2026, 11, 25, 14)
    assert due(cal, channel="email", reported_at=wed11) == sh(2026, 11, 25, 16)
    assert due(cal, channel="onsite", reported_at=wed11) == sh(2026, 11, 25, 14)
    assert due(cal, channel="remote", reported_at=wed11) == sh(2026, 11, 25, 14)
    assert due(cal, channel="phone", reported_at=sh(2026, 11, 20, 17, 30)) == sh(2026, 11, 23, 9, 30)
    assert due(cal, channel="phone", reported_at=sh(2026, 9, 30, 17)) == sh(2026, 10, 8, 9)
    with pytest.raises(ValueError, match="unknown channel"):
        due(cal, channel="fax", reported_at=wed11)


def test_urgent_outside_hours_uses_clock_hours(cal):
    sat22 = sh(2026, 11, 28, 22)
    assert due(cal, channel="phone", urgent=True, reported_at=sat22) == sh(2026, 11, 29, 2)
    t = response_target(P, cal, channel="email", urgent=True, reported_at=sat22)
    assert (t.duration, t.working) == (4 * H, False) and "紧急" in t.rule_zh
    # weekday evening and a holiday count as outside working time too
    assert due(cal, channel="email", urgent=True, reported_at=sh(2026, 11, 25, 19)) == sh(2026, 11, 25, 23)
    assert due(cal, channel="email", urgent=True, reported_at=sh(2026, 10, 2, 10)) == sh(2026, 10, 2, 14)


def test_urgent_inside_hours_uses_sooner_working_target(cal):
    wed11 = sh(2026, 11, 25, 11)
    assert due(cal, channel="email", urgent=True, reported_at=wed11) == sh(2026, 11, 25, 14)  # capped at 2 h
    short = SlaPolicy.from_dict({"targets": {"phone": "1h"}})
    assert response_due(short, cal, channel="phone", urgent=True, reported_at=wed11) == sh(2026, 11, 25, 12)
    # contract-literal default: Friday 17:30 urgent is due Monday 09:30 ...
    fri = sh(2026, 11, 20, 17, 30)
    assert due(cal, channel="phone", urgent=True, reported_at=fri) == sh(2026, 11, 23, 9, 30)
    # ... unless the clock cap is switched on
    capped = SlaPolicy.from_dict({"urgent": {"clock_cap_inside_hours": True}})
    assert response_due(capped, cal, channel="phone", urgent=True, reported_at=fri) == \
        sh(2026, 11, 20, 21, 30)
    assert response_due(capped, cal, channel="phone", urgent=True, reported_at=wed11) == sh(2026, 11, 25, 14)


def test_auto_tickets_by_severity(cal):
    wed11, sat22 = sh(2026, 11, 25, 11), sh(2026, 11, 28, 22)
    assert due(cal, channel="auto", severity="critical", reported_at=wed11) == sh(2026, 11, 25, 14)
    assert due(cal, channel="auto", severity=Status.CRITICAL, reported_at=sat22) == sh(2026, 11, 29, 2)
    assert due(cal, channel="auto", severity="WARNING", reported_at=wed11) == sh(2026, 11, 25, 16)
    assert due(cal, channel="auto", severity=1, reported_at=sat22) == sh(2026, 11, 30, 12)
    assert due(cal, channel="auto", severity="ok", reported_at=wed11) == sh(2026, 11, 25, 16)  # `auto` target
    t = response_target(P, cal, channel="auto", severity="critical", reported_at=wed11)
    assert t.working and "电话" in t.rule_zh
    custom = SlaPolicy.from_dict({"auto": {"warning": {"like": "phone"}, "critical": "email"}})
    assert custom.auto["warning"] == AutoRule("phone") and custom.auto["critical"] == AutoRule("email")
    assert response_due(custom, cal, channel="auto", severity="critical", reported_at=sat22) == \
        sh(2026, 11, 30, 12)


def test_pauses_push_due(cal):
    start = sh(2026, 11, 25, 9)
    pauses = [(sh(2026, 11, 25, 9, 30), sh(2026, 11, 25, 10, 30))]
    assert due(cal, channel="phone", reported_at=start, pauses=pauses) == sh(2026, 11, 25, 12)
    sat22 = sh(2026, 11, 28, 22)
    night = [(sh(2026, 11, 28, 23), sh(2026, 11, 29, 0, 30))]
    assert due(cal, channel="phone", urgent=True, reported_at=sat22, pauses=night) == sh(2026, 11, 29, 3, 30)


def test_sla_state(cal):
    d = sh(2026, 11, 25, 14)  # phone case reported 11:00
    target = response_target(P, cal, channel="phone", reported_at=sh(2026, 11, 25, 11))

    def state(now, responded=None, pauses=(), tgt=target):
        return sla_state(P, cal, due_at=d, responded_at=responded, now=now, pauses=pauses, target=tgt)

    assert state(sh(2026, 11, 25, 15), responded=sh(2026, 11, 25, 14)) == "met"
    assert state(sh(2026, 11, 25, 15), responded=sh(2026, 11, 25, 14, 0, 1)) == "breached"
    assert state(sh(2026, 11, 25, 14, 0, 1)) == "breached"
    assert state(sh(2026, 11, 25, 11, 10)) == "pending"
    assert state(sh(2026, 11, 25, 13, 29)) == "pending"  # 31 working min left (lunch excluded)
    assert state(sh(2026, 11, 25, 13, 30)) == "due_soon"
    assert state(sh(2026, 11, 25, 13, 30), tgt=None) == "due_soon"
    assert state(sh(2026, 11, 25, 11, 50)) == "pending"  # lunch hour does not make it due soon
    # waiting for the customer: the clock is stopped, even past a stale due time
    assert state(sh(2026, 11, 25, 16), pauses=[(sh(2026, 11, 25, 13), None)]) == "pending"
    # a pause that began after the deadline does not rescue a breach
    assert state(sh(2026, 11, 25, 16), pauses=[(sh(2026, 11, 25, 15), None)]) == "breached"


def test_sla_state_fraction(cal):
    email = response_target(P, cal, channel="email", reported_at=sh(2026, 11, 25, 11))
    d = sh(2026, 11, 25, 16)
    now = sh(2026, 11, 25, 15)  # 3 of 4 working hours elapsed: 75 %
    assert sla_state(P, cal, due_at=d, responded_at=None, now=now, target=email) == "due_soon"
    assert sla_state(P, cal, due_at=d, responded_at=None, now=now) == "pending"  # no target: 30 min rule only
    assert sla_state(P, cal, due_at=d, responded_at=None, now=sh(2026, 11, 25, 14, 59), target=email) == \
        "pending"


def test_sla_state_clock_basis(cal):
    sat22 = sh(2026, 11, 28, 22)
    snap = response_sla(P, cal, channel="phone", urgent=True, reported_at=sat22, responded_at=None,
                        now=sh(2026, 11, 29, 0, 30))
    assert snap.due_at == sh(2026, 11, 29, 2) and not snap.target.working and snap.state == "pending"
    snap = response_sla(P, cal, channel="phone", urgent=True, reported_at=sat22, responded_at=None,
                        now=sh(2026, 11, 29, 1))
    assert snap.state == "due_soon"
    snap = response_sla(P, cal, channel="phone", urgent=True, reported_at=sat22,
                        responded_at=sh(2026, 11, 29, 1, 59), now=sh(2026, 11, 30, 9))
    assert snap.state == "met"


def test_response_sla_with_open_pause(cal):
    start = sh(2026, 11, 25, 9)
    snap = response_sla(P, cal, channel="phone", reported_at=start, responded_at=None,
                        now=sh(2026, 11, 25, 16), pauses=[(sh(2026, 11, 25, 10), None)])
    assert snap.due_at == sh(2026, 11, 25, 17) and snap.state == "pending"


def test_elapsed_working(cal):
    e = elapsed_working(cal, reported_at=sh(2026, 11, 20, 17), responded_at=sh(2026, 11, 23, 9),
                        resolved_at=sh(2026, 11, 24, 17),
                        pauses=[(sh(2026, 11, 23, 10), sh(2026, 11, 23, 15))])
    assert e.response == 2 * H and e.response_hours == 2.0
    assert e.resolution == (1 + 9 - 4 + 8) * H and e.resolution_hours == 14.0
    e = elapsed_working(cal, reported_at=sh(2026, 11, 20, 17))
    assert e.response is None and e.resolution_hours is None


def test_policy_from_dict():
    p = SlaPolicy.from_dict({
        "targets": {"phone": "1h", "onsite": "8h"},
        "urgent": {"outside_hours": "3h", "inside_hours_cap": "90m"},
        "due_soon": {"fraction": "80%", "before": "15m"},
        "calendar": {"hours": ["08:00-12:00"]},
    })
    assert p.targets["phone"] == H and p.targets["onsite"] == 8 * H and p.targets["email"] == 4 * H
    assert p.urgent_outside_hours == 3 * H and p.urgent_inside_hours_cap == timedelta(minutes=90)
    assert p.due_soon_fraction == 0.8 and p.due_soon_before == timedelta(minutes=15)
    assert SlaPolicy.from_dict(None) == SlaPolicy()


@pytest.mark.parametrize("data, message", [
    ({"target": {}}, "unknown key"),
    ({"targets": {"fax": "1h"}}, "sla.targets: unknown key"),
    ({"targets": {"phone": "soon"}}, "sla.targets.phone: not a duration"),
    ({"targets": {"phone": 0}}, "must be positive"),
    ({"urgent": {"clock_cap_inside_hours": "yes"}}, "true or false"),
    ({"auto": {"fatal": "phone"}}, "sla.auto.fatal: not a status"),
    ({"auto": {"critical": {"like": "auto"}}}, "like: expected phone"),
    ({"auto": {"critical": {"like": "phone", "urgent": 1}}}, "urgent: expected true or false"),
    ({"due_soon": {"fraction": 1.5}}, "fraction must be in"),
    ({"due_soon": {"fraction": "lots"}}, "expected a number like 0.75"),
    ({"due_soon": {"fraction": "x%"}}, "not a fraction"),
    ({"due_soon": {"before": "-5m"}}, "not a duration"),
    ({"targets": ["phone"]}, "expected a mapping"),
])
def test_policy_validation(data, message):
    with pytest.raises(ConfigError, match=message):
        SlaPolicy.from_dict(data)
