"""Each unit's report and 系统服务单 (PDF) mailed to the unit's contacts (`report.contacts`) through the
notification outbox: queued in the transaction that stores the unit's files, once per (month, unit)
(unique dedup key, so several collector processes queue it once), delivered by the outbox job with
its lease, retries and backoff, and kept as the record shown in the console."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.notify import Channel, DeliveryResult, Notification
from alerts.notify.mail import Attachment, EmailChannel
from collector.notifications.models import OutboxMessage
from collector.notifications.service import REPORT_MAIL as KIND  # sent on its own, never folded
from collector.reports.models import FORMS, MEDIA_TYPES, Report, file_name
from collector.runtime import Runtime

ATTACHED = ("pdf", FORMS)


def dedup_key(month: str, unit: str, channel: str) -> str:
    return f"report-mail:{month}:{unit}:{channel}"


def enqueue(*, db: Session, rt: Runtime, now: datetime, month: str, unit: str,
            tickets: Optional[int] = None) -> Optional[OutboxMessage]:
    """Queue the unit's mail when it has contacts and its files are stored; None when there is
    nothing to send or it was queued before (by this or another process)."""
    to = rt.report.contacts.get(unit) if unit else None
    if not to or not rt.report_mail:
        return None
    key = dedup_key(month, unit, rt.report_mail)
    if db.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)) is not None:
        return None
    stored = set(db.scalars(sa.select(Report.format).where(Report.month == month, Report.unit == unit,
                                                           Report.format.in_(ATTACHED))))
    if stored != set(ATTACHED):
        return None
    y, m = month.split("-")
    count = "" if tickets is None else f" (共 {tickets} 张)"
    n = Notification(kind="report_ready", title=f"系统服务月报 {y}年{int(m)}月", unit=unit, created_at=now,
                     text=f"{unit}:\n附件是 {y}年{int(m)}月的系统服务月报和当月的系统服务单{count}, 均为 PDF。\n"
                          "请核对后在月报末页“签字确认”处签字盖章。")
    payload = {**n.to_dict(), "month": month, "mail_to": list(to),
               "attachments": [{"format": f, "filename": file_name(month, unit, f)} for f in ATTACHED]}
    row = OutboxMessage(channel=rt.report_mail, kind=KIND, payload=payload, status="pending", attempts=0,
                        next_attempt_at=now, created_at=now, last_error="", dedup_key=key)
    try:
        with db.begin_nested():
            db.add(row)
    except IntegrityError:
        return None  # queued by another process a moment ago
    return row


def attachments(db: Session, payload: dict[str, Any]) -> list[Attachment]:
    """The files as stored now (a report regenerated since is sent in its current version)."""
    month, unit = payload.get("month", ""), payload.get("unit", "")
    out = []
    for ref in payload.get("attachments") or []:
        fmt = ref.get("format", "")
        r = db.scalar(sa.select(Report).where(Report.month == month, Report.unit == unit, Report.format == fmt))
        if r is None:
            raise LookupError(f"附件 {ref.get('filename') or fmt} 已不存在 ({month} {unit})")
        out.append(Attachment(ref.get("filename") or file_name(month, unit, fmt), r.content,
                              MEDIA_TYPES.get(fmt, "application/octet-stream")))
    return out


def deliver(factory: Any, channel: Channel, payload: dict[str, Any]) -> DeliveryResult:
    """Send one queued mail: files read in a short session, sent outside any transaction."""
    if not isinstance(channel, EmailChannel):
        return DeliveryResult.failed(f"通道 {channel.name} 不是邮件通道, 无法发送附件")
    if not payload.get("mail_to"):
        return DeliveryResult.failed("没有收件人")
    try:
        with factory() as db:
            files = attachments(db, payload)
    except LookupError as e:
        return DeliveryResult.failed(str(e))
    return channel.send_mail(Notification.from_dict(payload), to=payload["mail_to"], attachments=files)


SENDERS = {KIND: deliver}  # for notifications.deliver_due: the outbox sends these with their files


def recent(*, db: Session, limit: int = 50) -> list[OutboxMessage]:
    return list(db.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == KIND)
                           .order_by(OutboxMessage.id.desc()).limit(limit)))
