"""Folding bursts into one digest notification."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alerts.notify import Notification, fold_pending, make_digest, should_fold

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)  # 16:00 in China


def burst(critical: int, warning: int, resolved: int = 0, unit: str = "某市财政局") -> list[Notification]:
    out = []
    for i in range(critical):
        out.append(Notification(kind="ticket_opened", title=f"严重告警 {i}", severity="critical", unit=unit,
                                system="voucher", host=f"vch-{i:02d}", ticket_no=f"XJ-C{i}",
                                created_at=NOW - timedelta(minutes=4, seconds=30) + timedelta(seconds=i)))
    for i in range(warning):
        out.append(Notification(kind="ticket_opened", title=f"警告告警 {i}", severity="warning", unit=unit,
                                system="voucher", created_at=NOW - timedelta(minutes=2)))
    for i in range(resolved):
        out.append(Notification(kind="ticket_resolved", title=f"已恢复 {i}", severity="critical", unit=unit,
                                system="voucher", created_at=NOW - timedelta(minutes=1)))
    return out


def test_should_fold():
    assert not should_fold(1, slots_left=0)        # a single one just waits for its slot
    assert not should_fold(5, slots_left=20)
    assert should_fold(6, slots_left=20)           # more than max_pending
    assert should_fold(3, slots_left=2)            # does not fit in the window
    assert should_fold(2, slots_left=0)            # window full
    assert not should_fold(8, slots_left=20, max_pending=10)


def test_digest_text():
    pending = burst(critical=12, warning=25)
    d = make_digest(pending, now=NOW, max_lines=5)
    assert d.kind == "digest" and d.severity == "critical"
    assert d.title == "告警汇总: 37 条 (严重 12, 警告 25)"
    lines = d.text.splitlines()
    assert lines[0] == "过去 5 分钟内 37 条告警: 严重 12, 警告 25"
    # most severe first, oldest first within a severity; time shown in China time
    assert lines[2] == "- 15:55 [严重] 某市财政局 电子凭证库 vch-00: 严重告警 0 (工单 XJ-C0)"
    assert len([x for x in lines if x.startswith("- ")]) == 6
    assert lines[-1] == "- …… 另有 32 条未列出，请在巡检平台查看"
    assert d.unit == "某市财政局" and d.system == "voucher" and d.host == ""
    assert d.created_at == NOW


def test_resolved_counted_apart_and_listed_last():
    d = make_digest(burst(critical=1, warning=1, resolved=2), now=NOW)
    assert d.title == "告警汇总: 4 条 (严重 1, 警告 1, 恢复 2)"
    assert d.text.splitlines()[-1].endswith("已恢复 1")


def test_mixed_units_have_no_common_unit():
    d = make_digest(burst(1, 0, unit="甲单位") + burst(1, 0, unit="乙单位"), now=NOW)
    assert d.unit == ""


def test_long_period_in_hours():
    old = Notification(kind="ticket_opened", title="x", created_at=NOW - timedelta(hours=5))
    new = Notification(kind="ticket_opened", title="y", created_at=NOW)
    assert make_digest([old, new], now=NOW).text.startswith("过去 5 小时内 2 条告警: 提示 2")


def test_fold_pending():
    assert fold_pending(burst(2, 2), slots_left=20, now=NOW) is None
    d = fold_pending(burst(12, 25), slots_left=20, now=NOW, url="https://xunjian.example.cn/alerts")
    assert d is not None and d.url == "https://xunjian.example.cn/alerts"
    assert fold_pending(burst(1, 1), slots_left=0, now=NOW) is not None


def test_nothing_to_fold():
    with pytest.raises(ValueError):
        make_digest([], now=NOW)
