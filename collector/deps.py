"""Dependency aliases so a route's needs show in its signature."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from collector.config import Settings
from collector.users import service as users
from collector.users.models import User


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    read = request.method in ("GET", "HEAD")
    session: Session = (request.app.state.read_sessionmaker if read else request.app.state.sessionmaker)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_user(request: Request, db: SessionDep) -> User:
    key = bearer(request)
    user = users.authenticate_key(db=db, key=key) if key else None
    if user is None:
        user = getattr(request.state, "session_user", None)  # set by the console's session middleware
    if user is None:
        raise HTTPException(401, "需要有效的 API 密钥: Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(role: str):
    def check(user: CurrentUser) -> User:
        if not users.has_role(user, role):
            raise HTTPException(403, f"需要 {role} 角色")
        return user
    return Depends(check)


Viewer = Annotated[User, require("viewer")]
Engineer = Annotated[User, require("engineer")]
Admin = Annotated[User, require("admin")]
