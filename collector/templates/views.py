"""/api/v1/templates (admin changes, viewers read), the agents' /api/v1/agent/config and a host's
effective template checks."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from collector.deps import Admin, SessionDep, SettingsDep, Viewer, bearer
from collector.hosts import service as hosts
from collector.templates import poll, service
from collector.templates.schemas import (
    AgentConfigOut,
    ApplyIn,
    AuditOut,
    ChangeOut,
    EffectiveCheckOut,
    EffectiveOut,
    HostRowOut,
    PercentIn,
    TemplateDetailOut,
    TemplateListOut,
    TemplateSummaryOut,
    VersionOut,
)
from collector.templates.validate import TemplateError, parse_template
from collector.timefmt import iso

router = APIRouter(prefix="/api/v1", tags=["templates"])


@router.get("/agent/config", response_model=AgentConfigOut, responses={304: {}, 401: {}, 429: {}})
async def agent_config(request: Request) -> Any:
    """The agent's effective template checks (its local YAML goes on top, on the agent). ETag is the
    version; 304 when If-None-Match names it. Authenticated by the agent's own token, as results are.
    Only `request` is declared, so the hot path skips FastAPI's parameter resolver."""
    state = request.app.state
    info = await poll.host_of(state, bearer(request), request.client.host if request.client else "")
    eff = await poll.effective_for(state, info)
    etag = f'"{eff.version}"'
    if poll.etag_matches(request.headers.get("if-none-match"), eff.version):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(eff.body, media_type="application/json", headers={"ETag": etag})


def _refuse(e: TemplateError) -> HTTPException:
    return HTTPException(422, str(e))


def _change(request: Request, db: Any, c: service.Change) -> ChangeOut:
    db.commit()  # before the answer: the agents' next poll (any process) sees it
    poll.cache_of(request.app.state).invalidate()
    return ChangeOut(name=c.name, action=c.action, version=c.version, previous_version=c.previous_version,
                     percent=c.percent)


@router.post("/templates", response_model=ChangeOut, responses={422: {}})
def apply(request: Request, body: ApplyIn, db: SessionDep, user: Admin) -> Any:
    """Apply a template file: a new version (or, for the current text, a new share)."""
    try:
        change = service.apply(db, parse_template(body.yaml), percent=body.percent, actor=user.name,
                               now=request.app.state.clock())
    except TemplateError as e:
        raise _refuse(e) from None
    return _change(request, db, change)


@router.put("/templates/{name}/percent", response_model=ChangeOut, responses={404: {}, 422: {}})
def set_percent(request: Request, name: str, body: PercentIn, db: SessionDep, user: Admin) -> Any:
    _exists(db, name)
    try:
        change = service.set_percent(db, name, percent=body.percent, actor=user.name, now=request.app.state.clock())
    except TemplateError as e:
        raise _refuse(e) from None
    return _change(request, db, change)


@router.post("/templates/{name}/rollback", response_model=ChangeOut, responses={404: {}, 409: {}})
def rollback(request: Request, name: str, db: SessionDep, user: Admin) -> Any:
    """Every host of the template back on its previous version."""
    _exists(db, name)
    try:
        change = service.rollback(db, name, actor=user.name, now=request.app.state.clock())
    except TemplateError as e:
        raise HTTPException(409, str(e)) from None
    return _change(request, db, change)


def _exists(db: Any, name: str) -> Any:
    t = service.get(db, name)
    if t is None:
        raise HTTPException(404, f"模板 {name} 不存在")
    return t


def summary(t: Any, v: Any, tz: str) -> dict[str, Any]:
    return {"name": t.name, "version": t.current_version, "previous_version": t.previous_version,
            "percent": t.percent, "priority": v.priority, "match": v.match or {}, "checks": len(v.checks or []),
            "updated_at": iso(t.updated_at, tz), "updated_by": t.updated_by}


@router.get("/templates", response_model=TemplateListOut)
def list_templates(db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    return {"items": [TemplateSummaryOut(**summary(t, v, settings.timezone))
                      for t, v in service.list_templates(db)]}


def _row(r: service.HostRow) -> HostRowOut:
    return HostRowOut(host=r.name, unit=r.unit, online=r.online, target=r.target, running=r.running,
                      refused=r.refused, refused_error=r.refused_error, unknown=r.unknown)


@router.get("/templates/{name}", response_model=TemplateDetailOut, responses={404: {}})
def get_template(name: str, db: SessionDep, settings: SettingsDep, user: Viewer) -> Any:
    t = _exists(db, name)
    tz = settings.timezone
    vers = service.versions(db, t)
    current = next(v for v in vers if v.version == t.current_version)
    d = service.detail(db, service.load_snapshot(db), name)
    return TemplateDetailOut(
        **summary(t, current, tz), yaml=current.yaml_text,
        versions=[VersionOut(version=v.version, priority=v.priority, match=v.match or {}, checks=v.checks or [],
                             yaml=v.yaml_text, created_by=v.created_by, created_at=iso(v.created_at, tz))
                  for v in vers],
        hosts=[_row(r) for r in d.hosts],
        hosts_by_target={str(k): n for k, n in sorted(d.target_counts.items())},
        hosts_by_running={str(k): n for k, n in sorted(d.running_counts.items())},
        refused=[_row(r) for r in d.refused],
        unknown_by_running={str(k): n for k, n in sorted(d.unknown_counts.items())},
        audit=[AuditOut(action=a.action, actor=a.actor, at=iso(a.at, tz), from_version=a.from_version,
                        to_version=a.to_version, percent=a.percent, diff=a.diff) for a in service.audit(db, name)])


@router.get("/hosts/{name}/template-config", response_model=EffectiveOut, responses={404: {}})
def host_config(name: str, db: SessionDep, user: Viewer) -> Any:
    """The checks the templates give this host now, each with its template@vN, and what its agent reports."""
    h = hosts.get_by_name(db=db, name=name)
    if h is None:
        raise HTTPException(404, f"主机 {name} 不存在")
    eff = service.effective(service.load_snapshot(db), h)
    return EffectiveOut(host=h.name, version=eff.version, reported_version=h.config_version,
                        refused_version=h.config_refused_version, refused_error=h.config_refused_error,
                        checks=[EffectiveCheckOut(name=c["name"], type=str(c.get("type", "")),
                                                  source=eff.sources[c["name"]]) for c in eff.checks])
