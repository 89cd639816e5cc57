"""One notification, and how it reads in each channel (mail, DingTalk, Feishu, WeCom, webhook).

The collector fills a `Notification` from a ticket, an SLA timer or a report; the channels only
render and deliver it. Text is zh-CN first; times are shown in China Standard Time.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

from alerts.notify.inert import markdown_text, one_line
from checks.model import SYSTEM_LABELS_ZH, Status

KINDS = ("ticket_opened", "ticket_resolved", "sla_due_soon", "sla_breached", "report_ready", "calendar_uncovered",
         "digest", "test")
KIND_LABELS_ZH = {
    "ticket_opened": "新工单",
    "ticket_resolved": "工单已恢复",
    "sla_due_soon": "SLA 即将到期",
    "sla_breached": "SLA 已超时",
    "report_ready": "巡检报告已生成",
    "calendar_uncovered": "工作日历缺失",
    "digest": "告警汇总",
    "test": "测试消息",
}

# Ordered like Status.severity (OK < UNKNOWN < WARNING < CRITICAL) so rules can say "at least warning".
SEVERITIES = ("info", "unknown", "warning", "critical")
SEVERITY_LABELS_ZH = {"info": "提示", "unknown": "未知", "warning": "警告", "critical": "严重"}
_SEVERITY_ALIASES = {
    "info": "info", "ok": "info", "notice": "info", "low": "info", "提示": "info", "正常": "info",
    "unknown": "unknown", "未知": "unknown",
    "warning": "warning", "warn": "warning", "minor": "warning", "medium": "warning", "警告": "warning",
    "critical": "critical", "crit": "critical", "major": "critical", "high": "critical", "error": "critical",
    "严重": "critical",
}
_STATUS_SEVERITY = {Status.OK: "info", Status.UNKNOWN: "unknown", Status.WARNING: "warning",
                    Status.CRITICAL: "critical"}

CHINA_TZ = timezone(timedelta(hours=8), "CST")  # no DST in China: a fixed offset needs no tzdata


def parse_severity(value: Any) -> str:
    """'critical', 'CRIT', '严重', Status.CRITICAL or 2 (a Nagios code) -> 'critical'."""
    if isinstance(value, Status):
        return _STATUS_SEVERITY[value]
    if isinstance(value, int) and not isinstance(value, bool):
        return _STATUS_SEVERITY[Status.parse(value)]
    if isinstance(value, str) and value.strip().lower() in _SEVERITY_ALIASES:
        return _SEVERITY_ALIASES[value.strip().lower()]
    raise ValueError(f"not a severity: {value!r} (expected one of {', '.join(SEVERITIES)})")


def severity_rank(value: Any) -> int:
    return SEVERITIES.index(parse_severity(value))


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Notification:
    """What to tell people; rendering is up to each channel."""

    kind: str
    title: str
    text: str = ""                 # zh-CN plain lines ("- " lists kept); links and tags are shown, not rendered
    severity: str = "info"
    unit: str = ""                 # customer unit, e.g. 某市财政局
    system: str = ""               # voucher | seal | mq | os (or free text)
    host: str = ""
    ticket_no: str = ""
    url: str = ""
    created_at: datetime = field(default_factory=_now)
    id: str = ""                   # the collector's outbox/event id, passed through to webhooks

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown notification kind {self.kind!r} (expected one of {', '.join(KINDS)})")
        object.__setattr__(self, "severity", parse_severity(self.severity))
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS_ZH[self.severity]

    @property
    def kind_label(self) -> str:
        return KIND_LABELS_ZH[self.kind]

    @property
    def system_label(self) -> str:
        return SYSTEM_LABELS_ZH.get(self.system, self.system)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (created_at as ISO 8601); `from_dict` reads it back, e.g. from an outbox row."""
        data = dataclasses.asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Notification:
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if isinstance(kwargs.get("created_at"), str):
            kwargs["created_at"] = datetime.fromisoformat(kwargs["created_at"])
        return cls(**kwargs)


def local_time(dt: datetime) -> str:
    return dt.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _facts(n: Notification) -> list[tuple[str, str]]:
    facts = [("级别", n.severity_label), ("类型", n.kind_label)]
    for label, value in (("单位", n.unit), ("系统", n.system_label), ("主机", n.host), ("工单", n.ticket_no)):
        if value:
            facts.append((label, value))
    facts.append(("时间", local_time(n.created_at)))
    return facts


def render_subject(n: Notification, prefix: str = "", shown: Callable[[str], str] = str) -> str:
    """One line: mail subject, robot title. E.g. '[巡检][严重] 某市财政局 磁盘使用率 95%'.
    `shown` renders the notification's own values (e.g. inert markdown)."""
    parts = [f"{prefix}[{n.severity_label}]"]
    if n.unit and n.unit not in n.title:
        parts.append(shown(n.unit))
    parts.append(shown(n.title))
    if n.ticket_no and n.ticket_no not in n.title:
        parts.append(f"(工单 {shown(n.ticket_no)})")
    return one_line(" ".join(parts))


def render_markdown(n: Notification, prefix: str = "", heading: bool = True,
                    max_bytes: Optional[int] = None, level: str = "") -> str:
    """Markdown understood by DingTalk, WeCom and Feishu lark_md (the latter without headings).

    Over max_bytes (UTF-8) the free text is shortened, so the facts and the link always arrive;
    `level` replaces the plain severity label (e.g. with WeCom colour markup). Every value from the
    notification is shown as written (alerts.notify.inert): no link, image, mention or tag of its own.
    """
    head = [f"### {render_subject(n, prefix, markdown_text)}", ""] if heading else []
    facts = [f"- **{k}**: {level if k == '级别' and level else markdown_text(v)}" for k, v in _facts(n)]
    tail = ["", f"[查看详情]({n.url})"] if n.url else []
    text = markdown_text(n.text.rstrip())
    if text and max_bytes is not None:
        fixed = len("\n".join([*head, "", "", *facts, *tail]).encode("utf-8"))
        text = truncate_utf8(text, max(0, max_bytes - fixed))
    out = "\n".join([*head, *([text, ""] if text else []), *facts, *tail])
    return truncate_utf8(out, max_bytes) if max_bytes is not None else out


def render_plain(n: Notification, prefix: str = "") -> str:
    """Plain text for mail bodies."""
    lines = [render_subject(n, prefix), ""]
    if n.text:
        lines += [n.text.rstrip(), ""]
    lines += [f"{k}: {v}" for k, v in _facts(n)]
    if n.url:
        lines += [f"详情: {n.url}"]
    lines += ["", "-- ", "巡检 Xunjian 自动通知，请勿直接回复。"]
    return "\n".join(lines) + "\n"


def truncate_utf8(text: str, max_bytes: int, marker: str = "\n…(内容过长，已截断)") -> str:
    """Cut to at most max_bytes of UTF-8 without splitting a character (robots reject long bodies)."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    room = max(0, max_bytes - len(marker.encode("utf-8")))
    return raw[:room].decode("utf-8", errors="ignore") + marker


# Channel bodies. Shapes per the robots' public docs (custom robot guides of DingTalk, Feishu, WeCom).
DINGTALK_MAX_BYTES = 18000   # DingTalk rejects bodies near 20000 bytes; keep a margin
WECOM_MARKDOWN_MAX_BYTES = 4096  # WeCom: markdown content at most 4096 bytes, UTF-8
FEISHU_MAX_BYTES = 28000     # Feishu card request body at most 30 KB


def dingtalk_body(n: Notification, prefix: str = "", at_mobiles: tuple[str, ...] = (),
                  at_all: bool = False) -> dict[str, Any]:
    """{"msgtype": "markdown", "markdown": {"title", "text"}, "at": {...}}; @mobiles must appear in text."""
    text = render_markdown(n, prefix, max_bytes=DINGTALK_MAX_BYTES)
    if at_mobiles:
        text += "\n\n" + " ".join(f"@{m}" for m in at_mobiles)
    return {
        "msgtype": "markdown",
        "markdown": {"title": render_subject(n, prefix), "text": text},
        "at": {"atMobiles": list(at_mobiles), "isAtAll": at_all},
    }


_FEISHU_COLOURS = {"critical": "red", "warning": "orange", "unknown": "grey", "info": "blue"}


def feishu_body(n: Notification, prefix: str = "") -> dict[str, Any]:
    """An interactive card: coloured header with the subject, lark_md body (no headings there)."""
    colour = "green" if n.kind == "ticket_resolved" else _FEISHU_COLOURS[n.severity]
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": render_subject(n, prefix)},
                       "template": colour},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": render_markdown(
                n, prefix, heading=False, max_bytes=FEISHU_MAX_BYTES)}}],
        },
    }


_WECOM_COLOURS = {"critical": "warning", "warning": "warning", "unknown": "comment", "info": "info"}


def wecom_body(n: Notification, prefix: str = "") -> dict[str, Any]:
    """{"msgtype": "markdown", "markdown": {"content"}}; colours: info green, comment grey, warning red."""
    colour = "info" if n.kind == "ticket_resolved" else _WECOM_COLOURS[n.severity]
    level = f'<font color="{colour}">{n.severity_label}</font>'
    md = render_markdown(n, prefix, max_bytes=WECOM_MARKDOWN_MAX_BYTES, level=level)
    return {"msgtype": "markdown", "markdown": {"content": md}}


def webhook_body(n: Notification, prefix: str = "") -> dict[str, Any]:
    """The notification's fields plus labels and a rendered markdown, for any receiver."""
    data = n.to_dict()
    data.update(severity_label=n.severity_label, kind_label=n.kind_label, system_label=n.system_label,
                subject=render_subject(n, prefix), markdown=render_markdown(n, prefix))
    return data


def example(kind: str = "test", **overrides: Any) -> Notification:
    """A notification for `test` sends from the console ('发送测试消息')."""
    values: dict[str, Any] = dict(kind=kind, title="巡检通知通道测试", severity="info",
                                  text="这是一条测试消息，收到即表示通知通道配置正确。")
    values.update(overrides)
    return Notification(**values)


__all__ = [
    "CHINA_TZ", "KINDS", "KIND_LABELS_ZH", "SEVERITIES", "SEVERITY_LABELS_ZH", "Notification",
    "dingtalk_body", "example", "feishu_body", "local_time", "parse_severity", "render_markdown",
    "render_plain", "render_subject", "severity_rank", "truncate_utf8", "webhook_body", "wecom_body",
]
