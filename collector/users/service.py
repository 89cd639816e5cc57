from __future__ import annotations

import secrets
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.db import utcnow
from collector.security import API_KEY_PREFIX, digest_matches, hash_password, new_token, token_digest
from collector.users.models import ROLES, User

ROLE_RANK = {r: i for i, r in enumerate(ROLES)}


def add(*, db: Session, name: str, role: str, display_name: str = "", number: str = "",
        password: Optional[str] = None) -> tuple[User, str]:
    """Create the user (or give an existing one a new key and role); returns the API key once."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    key = new_token(API_KEY_PREFIX)
    user = get_by_name(db=db, name=name)
    if user is None:
        user = User(name=name, role=role, display_name=display_name or name, number=number,
                    created_at=utcnow(), active=True)
        db.add(user)
    user.role = role
    if display_name:
        user.display_name = display_name
    if number:
        user.number = number
    if password is not None:
        user.password_hash = hash_password(password)
    user.api_key_hash = token_digest(key)
    db.flush()
    return user, key


def get_by_name(*, db: Session, name: str) -> Optional[User]:
    return db.scalar(sa.select(User).where(User.name == name))


def get(*, db: Session, user_id: int) -> Optional[User]:
    return db.get(User, user_id)


def authenticate_key(*, db: Session, key: str) -> Optional[User]:
    user = db.scalar(sa.select(User).where(User.api_key_hash == token_digest(key)))
    if user is None or not user.active or not digest_matches(key, user.api_key_hash):
        return None
    return user


def has_role(user: User, role: str) -> bool:
    return ROLE_RANK.get(user.role, -1) >= ROLE_RANK[role]


def list_users(*, db: Session) -> list[User]:
    return list(db.scalars(sa.select(User).order_by(User.name)))


def rotate_key(*, user: User) -> str:
    """A new API key for the user (the old one stops working); returned once, stored as its digest."""
    key = new_token(API_KEY_PREFIX)
    user.api_key_hash = token_digest(key)
    return key


def reset_password(*, user: User) -> str:
    """A new random password for the user; returned once, stored as its scrypt hash."""
    password = new_password()
    user.password_hash = hash_password(password)
    return password


def new_password() -> str:
    """16 random URL-safe characters (96 bits), for a first or reset password the admin hands over."""
    return secrets.token_urlsafe(12)
