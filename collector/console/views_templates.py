"""检查模板: templates with their rollout, one page per template with the YAML editor (admin changes)."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from collector.console.web import AdminForm, ConsoleError, PageUser, clock, redirect, render
from collector.deps import SessionDep
from collector.templates import poll, service
from collector.templates.cli import starters
from collector.templates.validate import TemplateError, parse_template

router = APIRouter(prefix="/console/templates", include_in_schema=False)
MAX_HOST_ROWS = 500


@router.get("")
def templates_page(request: Request, db: SessionDep, me: PageUser) -> Response:
    return _list(request, db)


def _list(request: Request, db: Session, *, text: str = "", error: str = "", notice: str = "",
          status: int = 200) -> Response:
    return render(request, "templates.html", status=status, nav="templates", rows=service.list_templates(db),
                  starters=starters(), text=text, error=error, notice=notice)


def checked(text: str) -> str:
    """The "只校验" answer: what would be published (TemplateError when it would be refused)."""
    parsed = parse_template(text.replace("\r\n", "\n"))
    names = "、".join(c["name"] for c in parsed.checks)
    return f"校验通过 (未发布): 模板 {parsed.name}, {len(parsed.checks)} 项检查: {names}"


@router.post("")
def apply_new(request: Request, db: SessionDep, form: AdminForm) -> Response:
    text = form.fields.get("yaml", [""])[0]
    try:
        if form.has("check"):
            return _list(request, db, text=text, notice=checked(text))
        change = _apply(db, text, form.get("percent", "100"), form.active.user.name, request)
    except TemplateError as e:
        return _list(request, db, text=text, error=str(e), status=422)
    return redirect(f"/console/templates/{change.name}?done={change.action}")


def _apply(db: Session, text: str, percent: str, actor: str, request: Request) -> service.Change:
    pct = _percent(percent)
    change = service.apply(db, parse_template(text.replace("\r\n", "\n")), percent=pct, actor=actor,
                           now=clock(request))
    db.commit()
    poll.cache_of(request.app.state).invalidate()
    return change


def _percent(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100:
        raise TemplateError(f"发布比例「{raw[:20]}」应为 1 到 100 之间的整数")
    return int(raw)


@router.get("/{name}")
def template_page(request: Request, name: str, db: SessionDep, me: PageUser, done: str = "") -> Response:
    return _detail(request, db, name, done=done)


def _detail(request: Request, db: Session, name: str, *, text: Optional[str] = None, error: str = "",
            done: str = "", notice: str = "", status: int = 200) -> Response:
    t = service.get(db, name)
    if t is None:
        raise ConsoleError(404, f"模板 {name} 不存在")
    vers = service.versions(db, t)
    current = next(v for v in vers if v.version == t.current_version)
    d = service.detail(db, service.load_snapshot(db), name)
    pulled = " 代理在下一次心跳时拉取。"
    notice = notice or {"apply": "已发布新版本。" + pulled, "percent": "已调整发布比例。" + pulled,
                        "rollback": "已回退到上一个版本。" + pulled,
                        "none": "内容与当前版本相同, 没有变化。"}.get(done, "")
    return render(request, "template.html", status=status, nav="templates", t=t, current=current, versions=vers,
                  d=d, hosts=d.hosts[:MAX_HOST_ROWS], more_hosts=max(0, len(d.hosts) - MAX_HOST_ROWS),
                  audit=service.audit(db, name), labels=service.ACTION_LABELS,
                  text=current.yaml_text if text is None else text, error=error, notice=notice)


@router.post("/{name}")
def apply_version(request: Request, name: str, db: SessionDep, form: AdminForm) -> Response:
    text = form.fields.get("yaml", [""])[0]
    try:
        parsed = parse_template(text.replace("\r\n", "\n"))
        if form.has("check"):
            return _detail(request, db, name, text=text, notice=checked(text))
        if parsed.name != name:
            raise TemplateError(f"模板内容中的 name 是 {parsed.name}, 与本页的模板 {name} 不同; "
                                "新建模板请到模板列表页发布")
        change = service.apply(db, parsed, percent=_percent(form.get("percent", "100")),
                               actor=form.active.user.name, now=clock(request))
        db.commit()
        poll.cache_of(request.app.state).invalidate()
    except TemplateError as e:
        db.rollback()
        return _detail(request, db, name, text=text, error=str(e), status=422)
    return redirect(f"/console/templates/{name}?done={change.action}")


@router.post("/{name}/percent")
def set_percent(request: Request, name: str, db: SessionDep, form: AdminForm) -> Response:
    try:
        change = service.set_percent(db, name, percent=_percent(form.get("percent")), actor=form.active.user.name,
                                     now=clock(request))
        db.commit()
        poll.cache_of(request.app.state).invalidate()
    except TemplateError as e:
        db.rollback()
        return _detail(request, db, name, error=str(e), status=422)
    return redirect(f"/console/templates/{name}?done={change.action}")


@router.post("/{name}/rollback")
def rollback(request: Request, name: str, db: SessionDep, form: AdminForm) -> Response:
    try:
        service.rollback(db, name, actor=form.active.user.name, now=clock(request))
        db.commit()
        poll.cache_of(request.app.state).invalidate()
    except TemplateError as e:
        db.rollback()
        if service.get(db, name) is None:
            raise ConsoleError(404, str(e)) from None
        return _detail(request, db, name, error=str(e), status=409)
    return redirect(f"/console/templates/{name}?done=rollback")
