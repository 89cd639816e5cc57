"""用户与 API 密钥 (admin only): add, disable/enable, reset the password, rotate the API key.

A new password or key is shown once, on the answer to the POST that made it; only hashes are stored."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from collector.console import auth
from collector.console.fields import NAME, problems, text_problem
from collector.console.web import AdminForm, ConsoleError, PageUser, render, row_id
from collector.deps import SessionDep
from collector.users import service as users
from collector.users.models import ROLES, User

router = APIRouter(prefix="/console/users", include_in_schema=False)


def _page(request: Request, db: Session, *, values: Optional[dict[str, str]] = None, error: str = "",
          message: str = "", secret: str = "", secret_label: str = "", status: int = 200) -> Response:
    return render(request, "users.html", status=status, users=users.list_users(db=db), roles=ROLES,
                  values=values or {"role": "engineer"}, error=error, message=message, secret=secret,
                  secret_label=secret_label, nav="users")


def _admin(me: auth.Active) -> None:
    if not users.has_role(me.user, "admin"):
        raise ConsoleError(403, "只有管理员 (admin) 可以管理用户和 API 密钥。")


@router.get("")
def user_list(request: Request, db: SessionDep, me: PageUser) -> Response:
    _admin(me)
    return _page(request, db)


@router.post("")
def add(request: Request, db: SessionDep, form: AdminForm) -> Response:
    values = {k: form.get(k) for k in ("name", "display_name", "number", "role")}
    found = problems(
        None if NAME.match(values["name"]) else "登录名只能用字母、数字、'_'、'-'、'.', 1 至 64 个字符",
        text_problem("姓名", values["display_name"], 64, required=True),
        text_problem("编号", values["number"], 32),
        None if values["role"] in ROLES else "请选择角色")
    if not found and users.get_by_name(db=db, name=values["name"]) is not None:
        found.append(f"登录名 {values['name']} 已存在")
    if found:
        return _page(request, db, values=values, error="; ".join(found), status=422)
    password = users.new_password()
    user, key = users.add(db=db, name=values["name"], role=values["role"], display_name=values["display_name"],
                          number=values["number"], password=password)
    db.commit()
    return _page(request, db, message=f"已添加用户 {user.name} ({user.display_name})。"
                                      "请把下面的初始密码和 API 密钥交给本人, 它们只显示这一次。",
                 secret=f"密码: {password}\nAPI 密钥: {key}", secret_label=user.name)


def _target(db: Session, form: AdminForm) -> User:
    uid = row_id(form.get("user"))
    user = users.get(db=db, user_id=uid) if uid is not None else None
    if user is None:
        raise ConsoleError(404, "用户不存在")
    return user


@router.post("/{action}")
def act(request: Request, action: str, db: SessionDep, form: AdminForm) -> Response:
    user = _target(db, form)
    if action in ("disable", "enable"):
        if user.id == form.active.user.id:
            return _page(request, db, error="不能停用自己的账号。", status=409)
        user.active = action == "enable"
        if not user.active:
            auth.end_all_for(db=db, user_id=user.id)
        db.commit()
        return _page(request, db, message=f"已{'启用' if user.active else '停用'}用户 {user.name}。")
    if action == "password":
        password = users.reset_password(user=user)
        ended = auth.end_all_for(db=db, user_id=user.id) if user.id != form.active.user.id else 0
        db.commit()
        note = f", 已让其 {ended} 个登录会话退出" if ended else ""
        return _page(request, db, message=f"已重置 {user.name} 的密码{note}。新密码只显示这一次:",
                     secret=password, secret_label=user.name)
    if action == "key":
        key = users.rotate_key(user=user)
        db.commit()
        return _page(request, db, message=f"已为 {user.name} 生成新的 API 密钥, 旧密钥立即失效。新密钥只显示这一次:",
                     secret=key, secret_label=user.name)
    raise ConsoleError(404, f"未知操作 {action}")
