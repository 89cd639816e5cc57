"""Chinese labels and the template filters that use them."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional
from urllib.parse import quote

from jinja2 import Environment

from checks.model import SYSTEM_LABELS_ZH
from collector.sla.policy import WINDOW_KIND_ZH
from collector.tickets.schemas import CHANNEL_LABELS, EVENT_LABELS, SEVERITY_LABELS, STATUS_LABELS, SUPPORT_LABELS
from collector.timefmt import zone

CHECK_STATUS = {0: ("正常", "ok"), 1: ("警告", "warn"), 2: ("严重", "crit"), 3: ("未知", "unknown")}
SLA_LABELS = {"met": "已达标", "breached": "已超时", "due_soon": "即将超时", "pending": "计时中"}
ROLE_LABELS = {"viewer": "只读", "engineer": "工程师", "admin": "管理员"}
MANUAL_CHANNELS = ("phone", "email", "onsite", "remote")
# What a check measures (the part of a metric's name before ':'); unknown names are shown as they are.
METRIC_LABELS = {
    "used_percent": "使用率", "free_bytes": "可用空间", "inode_percent": "inode 使用率", "size_bytes": "容量",
    "files": "文件数", "growth_bytes_per_hour": "每小时增长", "response_seconds": "响应时间",
    "status_code": "HTTP 状态码", "memory_available_bytes": "可用内存", "load1_per_core": "1 分钟负载/核",
    "load5_per_core": "5 分钟负载/核", "load15_per_core": "15 分钟负载/核", "critical_events": "严重错误数",
    "warning_events": "警告数", "bytes_read": "读取字节数", "lag_bytes": "未读字节数",
    "silence_seconds": "无新内容时长", "count": "进程数", "restarts": "重启次数", "rss_bytes": "内存占用",
    "cpu_percent": "CPU 使用率",
    "connect_seconds": "连接时间", "exec_seconds": "执行时间", "consumers": "消费者数", "queue_depth": "队列深度",
    "depth_percent": "队列占用率",
}


def metric_label(name: str) -> str:
    """'used_percent:/' → '使用率 /'; a name without a label stays as it is."""
    measure, colon, target = str(name).partition(":")
    label = METRIC_LABELS.get(measure)
    if label is None:
        return str(name)
    return f"{label} {target}" if colon else label


def local(dt: Optional[datetime], tz: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if dt is None else dt.astimezone(zone(tz)).strftime(fmt)


def span(delta: timedelta) -> str:
    """'2天3小时', '1小时5分', '4分' (rounded down to the minute)."""
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{mins}分"
    return f"{mins}分"


def ago(dt: Optional[datetime], now: datetime) -> str:
    if dt is None:
        return "从未"
    seconds = (now - dt).total_seconds()
    if seconds < 60:
        return "刚刚"
    return span(now - dt) + "前"


def register(env: Environment) -> None:
    env.globals.update(SYSTEM_LABELS=SYSTEM_LABELS_ZH, STATUS_LABELS=STATUS_LABELS, CHANNEL_LABELS=CHANNEL_LABELS,
                       SEVERITY_LABELS=SEVERITY_LABELS, CHECK_STATUS=CHECK_STATUS, SLA_LABELS=SLA_LABELS,
                       ROLE_LABELS=ROLE_LABELS, MANUAL_CHANNELS=MANUAL_CHANNELS, SUPPORT_LABELS=SUPPORT_LABELS,
                       WINDOW_KINDS=WINDOW_KIND_ZH)
    env.filters["local"] = local
    env.filters["ago"] = ago
    env.filters["span"] = span
    env.filters["system"] = lambda s: SYSTEM_LABELS_ZH.get(s, s or "-")
    env.filters["iso"] = lambda dt: "" if dt is None else dt.isoformat()
    env.filters["check_label"] = lambda s: CHECK_STATUS.get(s, ("未知", "unknown"))[0]
    env.filters["check_class"] = lambda s: CHECK_STATUS.get(s, ("未知", "unknown"))[1]
    env.filters["metric"] = metric_text
    env.filters["metric_label"] = metric_label
    env.filters["event"] = lambda kind: EVENT_LABELS.get(kind, kind)
    env.filters["pathpart"] = lambda v: quote(str(v), safe="")


def metric_text(m: dict[str, Any]) -> str:
    name = metric_label(m.get("name", ""))
    value = m.get("value")
    unit = m.get("unit") or ""
    if unit == "B" and isinstance(value, (int, float)):
        for suffix in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(value) < 1024 or suffix == "TiB":
                return f"{name} {value:.1f}{suffix}" if suffix != "B" else f"{name} {value:.0f}B"
            value /= 1024
    if isinstance(value, float) and not value.is_integer():
        return f"{name} {value:.1f}{unit}"
    return f"{name} {value:g}{unit}" if isinstance(value, (int, float)) else f"{name} {value}"
