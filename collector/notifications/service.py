"""The notification outbox: rows written in the transaction that caused them, delivered by a job.

Routing picks the channels; each channel's rate limit (sends in its window, read from the outbox)
is respected; when more are waiting than can go out, they are folded into one digest; failures are
retried with backoff and given up after MAX_ATTEMPTS, and every row stays as the record of what
was sent.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.notify import Channel, DeliveryResult, Notification, NotifyConfig, fold_pending, slots_left
from collector.notifications.models import OutboxMessage

log = logging.getLogger("xunjian.notify")

MAX_ATTEMPTS = 8
BACKOFF_BASE = 30.0  # seconds; doubled per attempt, capped at an hour
LEASE_MARGIN = 30.0  # seconds beyond the channel's timeout before an unfinished send is tried again
Sender = Callable[[Any, Channel, dict[str, Any]], DeliveryResult]  # (session factory, channel, payload)
REPORT_MAIL = "report_mail"  # collector.reports.mailing: files attached, to the unit's own contacts
SOLO = ("digest", REPORT_MAIL)  # sent as they are, never folded into a digest


def enqueue(*, db: Session, notification: Notification, config: NotifyConfig, now: datetime,
            ticket_id: Optional[int] = None, dedup_key: Optional[str] = None) -> list[OutboxMessage]:
    """Queue `notification` for every channel its route names (none configured: nothing queued)."""
    rows = []
    for channel in config.router.route(notification):
        if channel not in config.channels:
            continue
        key = f"{dedup_key}:{channel}" if dedup_key else None
        if key and db.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)):
            continue
        row = OutboxMessage(channel=channel, kind=notification.kind, payload=notification.to_dict(),
                            status="pending", attempts=0, next_attempt_at=now, created_at=now, last_error="",
                            ticket_id=ticket_id, dedup_key=key)
        try:
            with db.begin_nested():
                db.add(row)
        except IntegrityError:
            continue  # the same event queued by another process a moment ago
        rows.append(row)
    return rows


def deliver_due(*, factory, config: NotifyConfig, now: datetime, batch: int = 50,
                senders: Mapping[str, Sender] | None = None) -> int:
    """Send what is due on every channel; returns the number of messages delivered.

    `senders` deliver the kinds that are more than a notification (a report mail with its files: the
    reports domain passes its own, so this lower layer never imports it). Each send happens outside any
    database transaction, so a slow robot never holds a lock."""
    sent = 0
    for name, channel in config.channels.items():
        limit = channel.rate_limit
        with factory() as db:
            due = list(db.scalars(sa.select(OutboxMessage)
                                  .where(OutboxMessage.channel == name, OutboxMessage.status == "pending",
                                         OutboxMessage.next_attempt_at <= now)
                                  .order_by(OutboxMessage.id).limit(batch).with_for_update(skip_locked=True)))
            if not due:
                continue
            window_start = now - timedelta(seconds=limit.window) if limit.limit > 0 else now
            # Folded originals were delivered inside their digest: one send, counted once (the digest).
            recent = [t for (t,) in db.execute(sa.select(OutboxMessage.sent_at).where(
                OutboxMessage.channel == name, OutboxMessage.sent_at >= window_start,
                OutboxMessage.digest_id.is_(None)))] if limit.limit > 0 else []
            slots = slots_left(recent, limit.limit, limit.window, now) if limit.limit > 0 else len(due)
            if slots <= 0:
                continue
            foldable = [r for r in due if r.kind not in SOLO]
            pending = [Notification.from_dict(r.payload) for r in foldable]
            digest = fold_pending(pending, slots, max_pending=config.digest.max_pending, now=now,
                                  max_lines=config.digest.max_lines) if len(pending) > 1 else None
            if digest is not None:
                drow = OutboxMessage(channel=name, kind="digest", payload=digest.to_dict(), status="pending",
                                     attempts=0, next_attempt_at=now, created_at=now, last_error="")
                db.add(drow)
                db.flush()
                for r in foldable:
                    r.status = "folded"
                    r.digest_id = drow.id
                to_send = [drow] + [r for r in due if r.kind in SOLO]
            else:
                to_send = due
            to_send = to_send[:slots]
            # Leased while the send is under way: another collector process (or the next run of this
            # job, if a send outlasts its period) does not send them again; a crash mid-send retries
            # once the lease ends.
            lease = timedelta(seconds=float(getattr(channel.options, "timeout", 30.0)) + LEASE_MARGIN)
            for r in to_send:
                r.next_attempt_at = now + lease
            db.commit()
            work = [(r.id, r.kind, r.payload) for r in to_send]
        for row_id, kind, payload in work:
            special = (senders or {}).get(kind)
            if special is not None:
                result = special(factory, channel, payload)
            else:
                result = channel.send(Notification.from_dict(payload))
            with factory() as db, db.begin():
                row = db.get(OutboxMessage, row_id)
                if row is None:
                    continue
                row.attempts += 1
                row.last_attempt_at = now
                if result.ok:
                    row.status, row.sent_at, row.last_error = "sent", now, result.error
                    if row.kind == "digest":  # folded originals are now delivered through it
                        db.execute(sa.update(OutboxMessage).where(OutboxMessage.digest_id == row.id)
                                   .values(status="sent", sent_at=now))
                    sent += 1
                elif result.permanent or row.attempts >= MAX_ATTEMPTS:
                    row.status, row.last_error = "dead", result.error
                    log.warning("notification %s to %s given up: %s", row.id, name, result.error)
                else:
                    delay = result.retry_after or min(3600.0, BACKOFF_BASE * 2 ** (row.attempts - 1))
                    row.next_attempt_at = now + timedelta(seconds=delay)
                    row.last_error = result.error
    return sent


def recent(*, db: Session, limit: int = 100) -> list[OutboxMessage]:
    return list(db.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)))
