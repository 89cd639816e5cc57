"""The Notification model and its renderings."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from alerts.notify.message import (
    Notification,
    example,
    feishu_body,
    parse_severity,
    render_markdown,
    render_plain,
    render_subject,
    severity_rank,
    truncate_utf8,
    wecom_body,
)
from checks.model import Status

AT = datetime(2026, 11, 25, 16, 5, tzinfo=timezone.utc)


def test_severity_parsing_and_order():
    assert parse_severity("CRIT") == parse_severity(Status.CRITICAL) == parse_severity(2) == "critical"
    assert parse_severity("ok") == parse_severity(0) == "info"
    assert parse_severity("警告") == parse_severity("minor") == "warning"
    assert parse_severity("major") == parse_severity(" High ") == "critical"
    assert severity_rank("info") < severity_rank("unknown") < severity_rank("warning") < severity_rank("critical")
    with pytest.raises(ValueError):
        parse_severity("fatal")
    with pytest.raises(ValueError):
        parse_severity(True)


def test_notification_validation():
    with pytest.raises(ValueError, match="unknown notification kind"):
        Notification(kind="alarm", title="x")
    with pytest.raises(ValueError, match="timezone-aware"):
        Notification(kind="test", title="x", created_at=datetime(2026, 1, 1))
    assert Notification(kind="test", title="x", severity=Status.WARNING).severity == "warning"


def test_dict_round_trip_through_json():
    n = Notification(kind="report_ready", title="11 月巡检报告已生成", text="共 120 台主机", unit="某市财政局",
                     url="https://xunjian.example.cn/reports/11", created_at=AT, id="r-11")
    assert Notification.from_dict(json.loads(json.dumps(n.to_dict()))) == n


def test_subject_and_markdown():
    n = Notification(kind="sla_due_soon", title="工单 XJ-9 将在 30 分钟后超时", severity="warning",
                     unit="某市财政局", system="seal", ticket_no="XJ-9", created_at=AT)
    assert render_subject(n, "[巡检]") == "[巡检][警告] 某市财政局 工单 XJ-9 将在 30 分钟后超时"
    md = render_markdown(n)
    assert md.startswith("### [警告] 某市财政局")
    assert "- **类型**: SLA 即将到期" in md and "- **系统**: 电子印章系统" in md
    assert "- **时间**: 2026-11-26 00:05:00" in md  # China time crosses midnight
    assert "查看详情" not in md


def test_plain_text_for_mail():
    text = render_plain(example(created_at=AT), "[巡检]")
    assert text.startswith("[巡检][提示] 巡检通知通道测试\n")
    assert "类型: 测试消息" in text and text.endswith("请勿直接回复。\n")


def test_resolved_is_green():
    n = Notification(kind="ticket_resolved", title="磁盘已恢复", severity="critical", created_at=AT)
    assert feishu_body(n)["card"]["header"]["template"] == "green"
    assert '<font color="info">严重</font>' in wecom_body(n)["markdown"]["content"]


def test_truncate_utf8_keeps_whole_characters():
    text = "巡检" * 100
    cut = truncate_utf8(text, 50, marker="…")
    assert len(cut.encode()) <= 50 and cut.endswith("…")
    cut.encode("utf-8")  # no broken characters
    assert truncate_utf8("短", 50) == "短"
