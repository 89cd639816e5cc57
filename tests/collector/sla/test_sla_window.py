"""7×24 windows on the SLA engine: clock hours until the window ends, working hours after, exact due
times across the window's edges (working hours 08:00–12:00 and 13:00–18:00, Asia/Shanghai)."""
from __future__ import annotations

from datetime import timedelta

from sla_helpers import sh

from collector.sla.clock import add_window_time
from collector.sla.policy import SlaPolicy, window_target

H = timedelta(hours=1)
SAT_20, SUN_02 = sh(2026, 11, 28, 20), sh(2026, 11, 29, 2)  # an upgrade over a weekend night


def test_inside_the_window_every_hour_counts(cal):
    assert add_window_time(sh(2026, 11, 28, 23, 30), 2 * H, window_end=SUN_02, calendar=cal) == sh(2026, 11, 29, 1, 30)


def test_ending_exactly_at_the_window_end(cal):
    assert add_window_time(sh(2026, 11, 29, 0), 2 * H, window_end=SUN_02, calendar=cal) == SUN_02


def test_the_rest_runs_on_working_hours_after_the_window(cal):
    # 01:30: 30 min inside the window, 1.5 working hours from Monday 08:00.
    assert add_window_time(sh(2026, 11, 29, 1, 30), 2 * H, window_end=SUN_02, calendar=cal) == sh(2026, 11, 30, 9, 30)
    # a working-day window ending at 11:00: 1 h inside, 3 working h after, over lunch → 15:00
    assert add_window_time(sh(2026, 11, 30, 10), 4 * H, window_end=sh(2026, 11, 30, 11),
                           calendar=cal) == sh(2026, 11, 30, 15)


def test_pauses_count_neither_inside_nor_after(cal):
    start = sh(2026, 11, 28, 23)
    one_hour = [(sh(2026, 11, 28, 23, 30), sh(2026, 11, 29, 0, 30))]
    assert add_window_time(start, 2 * H, window_end=SUN_02, pauses=one_hour, calendar=cal) == SUN_02
    longer = [(sh(2026, 11, 28, 23, 30), sh(2026, 11, 29, 1))]  # 1.5 h inside left: 0.5 h on Monday
    assert add_window_time(start, 2 * H, window_end=SUN_02, pauses=longer, calendar=cal) == sh(2026, 11, 30, 8, 30)
    across = [(sh(2026, 11, 29, 1), sh(2026, 11, 30, 9))]  # pending across the edge, into Monday's hours
    assert add_window_time(start, 3 * H, window_end=SUN_02, pauses=across, calendar=cal) == sh(2026, 11, 30, 10)


def test_a_window_already_over_is_plain_working_time(cal):
    assert add_window_time(sh(2026, 11, 29, 3), 2 * H, window_end=SUN_02, calendar=cal) == sh(2026, 11, 30, 10)


def test_window_target_is_the_working_target_on_the_clock():
    p = SlaPolicy()
    phone = window_target(p, channel="phone", kind="upgrade")
    assert (phone.duration, phone.working, phone.rule_zh) == (2 * H, False, "7×24（系统升级窗口）2 小时")
    assert window_target(p, channel="email", kind="incident").duration == 4 * H
    assert window_target(p, channel="email", urgent=True, kind="incident").duration == 2 * H  # urgent cap
    assert window_target(p, channel="auto", severity="critical", kind="incident").duration == 2 * H  # like phone
    assert "故障处理" in window_target(p, channel="auto", severity="warning", kind="incident").rule_zh
