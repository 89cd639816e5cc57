"""Notification channels as the console shows them: what is configured, how its latest deliveries went,
a test send through the outbox, and the dashboard's warning when nobody would hear of a breach."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from alerts.notify import Channel, NotifyConfig, mask_url
from alerts.notify.message import example
from collector.notifications.models import OutboxMessage
from collector.notifications.service import deliver_due
from collector.reports import mailing
from collector.runtime import Runtime

FAIL_STREAK = 3  # this many failed sends in a row: the channel "keeps failing"
TYPE_LABELS = {"email": "邮件", "dingtalk": "钉钉机器人", "feishu": "飞书机器人", "wecom": "企业微信机器人",
               "webhook": "Webhook"}


@dataclass
class ChannelState:
    name: str
    type: str
    target: str  # where it goes, secrets masked
    rate: str
    last: Optional[OutboxMessage]  # the latest message tried (sent or failed)
    last_ok_at: Optional[datetime]
    pending: int
    dead: int
    failing: int  # failed sends in a row, newest first (0: the latest went through)

    @property
    def type_label(self) -> str:
        return TYPE_LABELS.get(self.type, self.type)

    @property
    def keeps_failing(self) -> bool:
        return self.failing >= FAIL_STREAK


def target_of(ch: Channel) -> str:
    o: Any = ch.options
    if ch.type == "email":
        return f"{', '.join(o.to)} (经 {o.host}:{o.effective_port})"
    return mask_url(getattr(o, "url", "") or "")


def _rate(ch: Channel) -> str:
    r = ch.rate_limit
    return "不限" if r.limit <= 0 else f"每 {r.window:g} 秒 {r.limit} 条"


def states(*, db: Session, config: NotifyConfig) -> list[ChannelState]:
    out = []
    for name, ch in config.channels.items():
        tried = list(db.scalars(sa.select(OutboxMessage).where(OutboxMessage.channel == name,
                                                               OutboxMessage.attempts > 0)
                                .order_by(OutboxMessage.id.desc()).limit(FAIL_STREAK * 4)))
        failing = 0
        for row in tried:
            if row.status == "sent":
                break
            failing += 1
        counts = dict(db.execute(sa.select(OutboxMessage.status, sa.func.count())
                                 .where(OutboxMessage.channel == name, OutboxMessage.status.in_(("pending", "dead")))
                                 .group_by(OutboxMessage.status)).all())
        last_ok = db.scalar(sa.select(sa.func.max(OutboxMessage.sent_at)).where(OutboxMessage.channel == name))
        out.append(ChannelState(name=name, type=ch.type, target=target_of(ch), rate=_rate(ch),
                                last=tried[0] if tried else None, last_ok_at=last_ok,
                                pending=int(counts.get("pending", 0)), dead=int(counts.get("dead", 0)),
                                failing=failing))
    return out


def banner(*, db: Session, rt: Runtime) -> str:
    """The dashboard's warning: no channel, or channels whose latest FAIL_STREAK sends all failed."""
    if not rt.notify.channels:
        return "未配置任何通知通道: 服务单超时、新服务单等通知不会发给任何人。请在采集端配置 notify.channels。"
    bad = [s.name for s in states(db=db, config=rt.notify) if s.keeps_failing]
    if bad:
        return f"通知通道 {', '.join(bad)} 最近连续 {FAIL_STREAK} 次以上发送失败, 通知可能没有送达。"
    return ""


def test_send(*, factory: Any, config: NotifyConfig, name: str, actor: str, now: datetime) -> OutboxMessage:
    """Queue a test message for channel `name` and run that channel's delivery at once (as the outbox job
    would); returns the message as it stands afterwards."""
    n = example(text=f"这是一条测试消息, 由 {actor} 在控制台发送; 收到即表示通知通道配置正确。", created_at=now)
    with factory() as db:
        row = OutboxMessage(channel=name, kind="test", payload=n.to_dict(), status="pending", attempts=0,
                            next_attempt_at=now, created_at=now, last_error="")
        db.add(row)
        db.commit()
        row_id = row.id
    only = NotifyConfig(channels={name: config.channels[name]}, router=config.router, digest=config.digest)
    deliver_due(factory=factory, config=only, now=now, senders=mailing.SENDERS)
    with factory() as db:
        done = db.get(OutboxMessage, row_id)
        assert done is not None
        if done.status == "pending" and done.attempts > 0:  # a failed test is not retried later: it was seen
            done.status = "dead"
            db.commit()
        if done.status == "folded" and done.digest_id:  # sent inside a digest with what else was waiting
            digest = db.get(OutboxMessage, done.digest_id)
            done = digest or done
        db.expunge(done)
        return done
