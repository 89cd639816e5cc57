"""Console sessions (server-side, in the database), login throttling and the audit of refused logins.

The cookie carries a random token; the table keeps its SHA-256 digest, the CSRF token of the session,
an absolute expiry and the time of the last request (idle timeout). Every collector process reads the
same table, so a browser may land on any of them.

Throttling, all in the shared `login_failures` table: a user name from one address, one address over all
names, and a per-account backoff over all addresses (a guesser spread over many addresses waits 1, 2, 4 …
seconds after each failure, up to `login_account_backoff_max_seconds`: slowed, never locked out for good).
Each wrong password is also kept in `login_audit` (name, address, browser, time, reason) and logged on
`xunjian.audit`; throttled attempts, which cost no password check, only in the log.
"""
from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.config import ConsoleSettings
from collector.console.models import ConsoleSession, LoginAudit, LoginFailure
from collector.security import token_digest, verify_password
from collector.users.models import User

COOKIE = "xj_session"
TOUCH_EVERY = timedelta(seconds=60)  # write last_seen_at at most once a minute per session
IP_FACTOR = 4  # one address may fail this many times more, over all user names, before it is refused
AUDIT_DAYS = 180  # refused logins are kept this long
audit_log = logging.getLogger("xunjian.audit")


@dataclass
class Active:
    """A valid session and its user, as the pages see it."""

    user: User
    csrf: str
    expires_at: datetime


def start(*, db: Session, user: User, now: datetime, cfg: ConsoleSettings, ip: str = "",
          user_agent: str = "") -> str:
    """A new session for the user; returns the cookie value (shown only to the browser)."""
    token = secrets.token_urlsafe(32)
    db.add(ConsoleSession(id_hash=token_digest(token), user_id=user.id, created_at=now, last_seen_at=now,
                          expires_at=now + timedelta(hours=cfg.absolute_hours), csrf_token=secrets.token_urlsafe(32),
                          ip=ip[:64], user_agent=user_agent[:300]))
    db.execute(sa.delete(ConsoleSession).where(ConsoleSession.expires_at <= now))  # housekeeping
    return token


def peek(*, db: Session, token: Optional[str], now: datetime, cfg: ConsoleSettings
         ) -> tuple[Optional[Active], bool]:
    """Read-only lookup: (session, whether the row needs a write — touch or delete)."""
    if not token:
        return None, False
    row = db.get(ConsoleSession, token_digest(token))
    if row is None:
        return None, False
    user = db.get(User, row.user_id)
    idle_end = row.last_seen_at + timedelta(minutes=cfg.idle_minutes)
    if now >= row.expires_at or now >= idle_end or user is None or not user.active:
        return None, True
    return Active(user=user, csrf=row.csrf_token, expires_at=row.expires_at), now - row.last_seen_at >= TOUCH_EVERY


def apply(*, db: Session, token: str, now: datetime, alive: bool) -> None:
    """Touch a live session or delete a dead one, in the writer's transaction."""
    if alive:
        db.execute(sa.update(ConsoleSession).where(ConsoleSession.id_hash == token_digest(token),
                                                   ConsoleSession.last_seen_at < now).values(last_seen_at=now))
    else:
        db.execute(sa.delete(ConsoleSession).where(ConsoleSession.id_hash == token_digest(token)))


def end(*, db: Session, token: Optional[str]) -> None:
    if token:
        db.execute(sa.delete(ConsoleSession).where(ConsoleSession.id_hash == token_digest(token)))


def end_all_for(*, db: Session, user_id: int) -> int:
    """Log a user out everywhere (after a password change)."""
    return db.execute(sa.delete(ConsoleSession).where(ConsoleSession.user_id == user_id)).rowcount or 0


def csrf_ok(expected: str, given: Optional[str]) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def throttled(*, db: Session, name: str, ip: str, now: datetime, cfg: ConsoleSettings) -> float:
    """Seconds this attempt must wait (0: go ahead): too many recent failures for this user name from this
    address or from this address at all (the window), or the account's backoff across addresses."""
    window = timedelta(minutes=cfg.login_window_minutes)
    recent = sa.select(sa.func.count()).select_from(LoginFailure).where(LoginFailure.at > now - window)
    pair = db.scalar(recent.where(LoginFailure.name == name, LoginFailure.ip == ip)) or 0
    if pair >= cfg.login_max_failures or \
            (db.scalar(recent.where(LoginFailure.ip == ip)) or 0) >= cfg.login_max_failures * IP_FACTOR:
        return window.total_seconds()
    count, last = db.execute(sa.select(sa.func.count(), sa.func.max(LoginFailure.at))
                             .where(LoginFailure.name == name, LoginFailure.at > now - window)).one()
    if count < cfg.login_max_failures or last is None:
        return 0.0
    last = last if last.tzinfo is not None else last.replace(tzinfo=now.tzinfo)  # SQLite keeps no offset
    backoff = min(2.0 ** (count - cfg.login_max_failures), cfg.login_account_backoff_max_seconds)
    return max(0.0, (last + timedelta(seconds=backoff) - now).total_seconds())


def login(*, read: Any, write: Any, name: str, password: str, ip: str, now: datetime, cfg: ConsoleSettings,
          user_agent: str = "", old_cookie: Optional[str] = None) -> tuple[float, Optional[str]]:
    """One login attempt on a worker thread: (seconds to wait when throttled, the new session's cookie value
    when name and password match). `read`/`write` are the read and write session factories: the password
    check (scrypt) runs between them, inside no transaction, so on SQLite it never holds the write lock
    that ingest needs."""
    with read() as db:
        wait = throttled(db=db, name=name, ip=ip, now=now, cfg=cfg)
        user = None if wait else db.scalar(sa.select(User).where(User.name == name))
        user_id, stored, active = (user.id, user.password_hash, user.active) if user is not None else (0, None, False)
    if wait:
        audit(db=None, name=name, ip=ip, now=now, reason="throttled", user_agent=user_agent)
        return wait, None
    ok = verify_password(password, stored)
    with write() as db:
        user = db.get(User, user_id) if ok and active else None  # (disabled meanwhile: refused)
        if user is not None and user.active:
            db.execute(sa.delete(LoginFailure).where(LoginFailure.name == name, LoginFailure.ip == ip))
            end(db=db, token=old_cookie)  # never keep a session across logins
            token = start(db=db, user=user, now=now, cfg=cfg, ip=ip, user_agent=user_agent)
            db.commit()
            return 0.0, token
        db.add(LoginFailure(name=name[:64], ip=ip[:64], at=now))
        db.execute(sa.delete(LoginFailure).where(LoginFailure.at <= now - timedelta(minutes=cfg.login_window_minutes)))
        # (user_id 0: no such user; ids start at 1)
        reason = "unknown_user" if user_id == 0 else "bad_password" if not ok else "disabled"
        audit(db=db, name=name, ip=ip, now=now, reason=reason, user_agent=user_agent)
        db.commit()
    return 0.0, None


def audit(*, db: Optional[Session], name: str, ip: str, now: datetime, reason: str, user_agent: str = "") -> None:
    """A refused login: in the log (the name as a quoted literal: it is the client's text), and in the
    audit table unless it was only throttled (no password checked: a flood must not become writes)."""
    audit_log.warning("console login refused: name=%r ip=%r reason=%s user_agent=%r", name[:64], ip, reason,
                      user_agent[:300])
    if reason == "throttled" or db is None:
        return
    db.add(LoginAudit(at=now, name=name[:64], ip=ip[:64], user_agent=user_agent[:300], reason=reason))
    db.execute(sa.delete(LoginAudit).where(LoginAudit.at <= now - timedelta(days=AUDIT_DAYS)))
