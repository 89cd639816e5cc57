"""Fold a burst of pending notifications for one channel into a single `digest` notification.

Robots take 20 messages a minute; a storm of 40 alerts would otherwise be throttled for ten
minutes (DingTalk). The collector calls `fold_pending` with what waits in the outbox for a channel
and the channel's free slots; it should keep the original rows pending and mark them delivered
only once the digest itself was delivered, so a failed digest is simply folded again next time.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Optional

from alerts.notify.message import SEVERITIES, SEVERITY_LABELS_ZH, Notification, local_time, severity_rank

RESOLVED_LABEL = "恢复"
_COUNT_ORDER = [SEVERITY_LABELS_ZH[s] for s in reversed(SEVERITIES)] + [RESOLVED_LABEL]


def should_fold(pending_count: int, slots_left: int, max_pending: int = 5) -> bool:
    """Fold when more than `max_pending` wait, or when they do not fit in the free slots of the window."""
    return pending_count > 1 and (pending_count > max_pending or pending_count > slots_left)


def _label(n: Notification) -> str:
    return RESOLVED_LABEL if n.kind == "ticket_resolved" else n.severity_label


def _period(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    if minutes <= 120:
        return f"{minutes} 分钟"
    return f"{math.ceil(minutes / 60)} 小时"


def _line(n: Notification) -> str:
    where = " ".join(x for x in (n.unit, n.system_label, n.host) if x)
    ticket = f" (工单 {n.ticket_no})" if n.ticket_no else ""
    head = f"{local_time(n.created_at)[11:16]} [{_label(n)}]"
    return f"- {head} {where}: {n.title}{ticket}" if where else f"- {head} {n.title}{ticket}"


def _common(values: Sequence[str]) -> str:
    return values[0] if values and all(v == values[0] for v in values) else ""


def make_digest(pending: Sequence[Notification], now: Optional[datetime] = None, max_lines: int = 10,
                url: str = "") -> Notification:
    """'过去 5 分钟内 37 条告警: 严重 12, 警告 25' with the most severe lines first."""
    if not pending:
        raise ValueError("nothing to fold")
    now = now or datetime.now(timezone.utc)
    counts = Counter(_label(n) for n in pending)
    summary = ", ".join(f"{label} {counts[label]}" for label in _COUNT_ORDER if counts[label])
    oldest = min(n.created_at for n in pending)
    head = f"过去 {_period((now - oldest).total_seconds())}内 {len(pending)} 条告警: {summary}"
    ordered = sorted(pending, key=lambda n: (n.kind == "ticket_resolved", -severity_rank(n.severity),
                                             n.created_at))
    lines = [head, ""] + [_line(n) for n in ordered[:max_lines]]
    if len(ordered) > max_lines:
        lines.append(f"- …… 另有 {len(ordered) - max_lines} 条未列出，请在巡检平台查看")
    worst = max(pending, key=lambda n: severity_rank(n.severity)).severity
    return Notification(
        kind="digest",
        title=f"告警汇总: {len(pending)} 条 ({summary})",
        text="\n".join(lines),
        severity=worst,
        unit=_common([n.unit for n in pending]),
        system=_common([n.system for n in pending]),
        host=_common([n.host for n in pending]),
        url=url or _common([n.url for n in pending]),
        created_at=now,
    )


def fold_pending(pending: Sequence[Notification], slots_left: int, max_pending: int = 5,
                 now: Optional[datetime] = None, max_lines: int = 10,
                 url: str = "") -> Optional[Notification]:
    """The digest to send instead of `pending`, or None to send them one by one (rate limit permitting)."""
    if not should_fold(len(pending), slots_left, max_pending):
        return None
    return make_digest(pending, now=now, max_lines=max_lines, url=url)
