"""Template changes (apply, share, rollback; each audited with its diff) and reads (snapshot, detail)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from checks.model import Status
from collector.db import insert_for
from collector.hosts.models import Host
from collector.results.models import CheckState
from collector.templates import rollout
from collector.templates.models import ServedConfig, Template, TemplateAudit, TemplateGeneration, TemplateVersion
from collector.templates.validate import Parsed, TemplateError

ACTION_LABELS = {"apply": "发布新版本", "percent": "调整发布比例", "rollback": "回退"}


@dataclass(frozen=True)
class Change:
    name: str
    action: str  # apply | percent | rollback | none
    version: int
    previous_version: Optional[int]
    percent: int


def check_percent(percent: Any) -> int:
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
        raise TemplateError(f"发布比例 {percent!r} 应为 1 到 100 之间的整数 (百分比)")
    return percent


def generation(db: Session) -> int:
    return int(db.scalar(sa.select(TemplateGeneration.value).where(TemplateGeneration.id == 1)) or 0)


def _lock(db: Session) -> None:
    """Serialise template changes across collector processes (PostgreSQL row lock; SQLite writers already
    take the database's write lock when they begin)."""
    db.execute(sa.select(TemplateGeneration.id).where(TemplateGeneration.id == 1).with_for_update())


def _bump(db: Session) -> None:
    db.execute(sa.update(TemplateGeneration).where(TemplateGeneration.id == 1)
               .values(value=TemplateGeneration.value + 1))


def get(db: Session, name: str) -> Optional[Template]:
    return db.scalar(sa.select(Template).where(Template.name == name))


def version_row(db: Session, template_id: int, number: Optional[int]) -> Optional[TemplateVersion]:
    if number is None:
        return None
    return db.scalar(sa.select(TemplateVersion).where(TemplateVersion.template_id == template_id,
                                                      TemplateVersion.version == number))


def diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        old_name, new_name))


def _audit(db: Session, t: Template, action: str, actor: str, now: datetime, from_v: Optional[int],
           text: str = "") -> None:
    db.add(TemplateAudit(template=t.name, action=action, actor=actor[:64], at=now, from_version=from_v,
                         to_version=t.current_version, percent=t.percent, diff=text))


def apply(db: Session, parsed: Parsed, *, percent: int = 100, actor: str, now: datetime) -> Change:
    """Store the template's text as a new version published to `percent` of its hosts (the others keep the
    version most hosts ran); the same text as the current version only changes the share."""
    check_percent(percent)
    _lock(db)
    t = get(db, parsed.name)
    if t is None:
        t = Template(name=parsed.name, current_version=1, previous_version=None, percent=percent, updated_at=now,
                     updated_by=actor[:64])
        db.add(t)
        db.flush()
        _add_version(db, t, 1, parsed, actor, now)
        _audit(db, t, "apply", actor, now, None, diff("", parsed.text, "/dev/null", f"{t.name}@v1"))
        _bump(db)
        return Change(t.name, "apply", 1, None, percent)
    current = version_row(db, t.id, t.current_version)
    if current is not None and current.yaml_text == parsed.text:
        if t.percent == percent:
            return Change(t.name, "none", t.current_version, t.previous_version, t.percent)
        t.percent = percent
        t.updated_at, t.updated_by = now, actor[:64]
        _audit(db, t, "percent", actor, now, t.previous_version)
        _bump(db)
        return Change(t.name, "percent", t.current_version, t.previous_version, percent)
    number = int(db.scalar(sa.select(sa.func.max(TemplateVersion.version))
                           .where(TemplateVersion.template_id == t.id)) or 0) + 1
    majority = t.current_version if t.percent >= 100 else t.previous_version  # what the other hosts keep
    base = version_row(db, t.id, majority)
    _add_version(db, t, number, parsed, actor, now)
    t.previous_version, t.current_version, t.percent = majority, number, percent
    t.updated_at, t.updated_by = now, actor[:64]
    _audit(db, t, "apply", actor, now, majority,
           diff(base.yaml_text if base else "", parsed.text, f"{t.name}@v{majority}" if base else "/dev/null",
                f"{t.name}@v{number}"))
    _bump(db)
    return Change(t.name, "apply", number, majority, percent)


def _add_version(db: Session, t: Template, number: int, parsed: Parsed, actor: str, now: datetime) -> None:
    db.add(TemplateVersion(template_id=t.id, version=number, yaml_text=parsed.text, match=parsed.match,
                           priority=parsed.priority, checks=parsed.checks, created_by=actor[:64], created_at=now))


def set_percent(db: Session, name: str, *, percent: int, actor: str, now: datetime) -> Change:
    check_percent(percent)
    _lock(db)
    t = _must(db, name)
    if t.percent != percent:
        t.percent = percent
        t.updated_at, t.updated_by = now, actor[:64]
        _audit(db, t, "percent", actor, now, t.previous_version)
        _bump(db)
    return Change(t.name, "percent", t.current_version, t.previous_version, t.percent)


def rollback(db: Session, name: str, *, actor: str, now: datetime) -> Change:
    """Every matching host back on the previous version, in one step."""
    _lock(db)
    t = _must(db, name)
    if t.previous_version is None:
        raise TemplateError(f"模板 {name} 没有上一个版本, 无法回退 (当前 v{t.current_version})")
    old = version_row(db, t.id, t.current_version)
    back = version_row(db, t.id, t.previous_version)
    assert old is not None and back is not None
    t.current_version, t.previous_version, t.percent = back.version, None, 100
    t.updated_at, t.updated_by = now, actor[:64]
    _audit(db, t, "rollback", actor, now, old.version,
           diff(old.yaml_text, back.yaml_text, f"{name}@v{old.version}", f"{name}@v{back.version}"))
    _bump(db)
    return Change(t.name, "rollback", back.version, None, 100)


def _must(db: Session, name: str) -> Template:
    t = get(db, name)
    if t is None:
        raise TemplateError(f"模板 {name} 不存在")
    return t


# --- reads ------------------------------------------------------------------------------------------

def load_snapshot(db: Session) -> rollout.Snapshot:
    """Every template's rollout state, read with its generation in one transaction."""
    gen = generation(db)
    rows = db.execute(sa.select(Template, TemplateVersion).join(
        TemplateVersion, sa.and_(TemplateVersion.template_id == Template.id,
                                 TemplateVersion.version.in_([Template.current_version,
                                                              sa.func.coalesce(Template.previous_version, -1)])))
        .order_by(Template.name)).all()
    vers: dict[str, dict[int, rollout.Ver]] = {}
    temps: dict[str, Template] = {}
    for t, v in rows:
        temps[t.name] = t
        vers.setdefault(t.name, {})[v.version] = rollout.Ver(v.version, dict(v.match or {}), v.priority,
                                                             list(v.checks or []))
    out = rollout.Snapshot(gen)
    for name, t in temps.items():
        out.templates.append(rollout.Rollout(name, t.percent, vers[name][t.current_version],
                                             vers[name].get(t.previous_version or -1)))
    return out


def effective(snap: rollout.Snapshot, host: Host) -> rollout.Effective:
    labels = rollout.host_labels(host.unit, host.labels)
    return rollout.merge(snap, rollout.selection(snap, host.name, labels))


def record_served(db: Session, eff: rollout.Effective, now: datetime) -> None:
    """Remember which template versions an effective version is made of (once per version)."""
    stmt = insert_for(db.get_bind(), ServedConfig.__table__).values(version=eff.version, sources=eff.templates,
                                                                    created_at=now)
    db.execute(stmt.on_conflict_do_nothing(index_elements=["version"]))


def served(db: Session, versions: set[str]) -> dict[str, dict[str, int]]:
    versions.discard("")
    if not versions:
        return {}
    rows = db.execute(sa.select(ServedConfig.version, ServedConfig.sources)
                      .where(ServedConfig.version.in_(sorted(versions)))).all()
    return {v: dict(s or {}) for v, s in rows}


def list_templates(db: Session) -> list[tuple[Template, TemplateVersion]]:
    return list(db.execute(sa.select(Template, TemplateVersion).join(
        TemplateVersion, sa.and_(TemplateVersion.template_id == Template.id,
                                 TemplateVersion.version == Template.current_version)).order_by(Template.name)).all())


def versions(db: Session, t: Template) -> list[TemplateVersion]:
    return list(db.scalars(sa.select(TemplateVersion).where(TemplateVersion.template_id == t.id)
                           .order_by(TemplateVersion.version.desc())))


def audit(db: Session, name: str, limit: int = 50) -> list[TemplateAudit]:
    return list(db.scalars(sa.select(TemplateAudit).where(TemplateAudit.template == name)
                           .order_by(TemplateAudit.id.desc()).limit(limit)))


@dataclass
class HostRow:
    name: str
    unit: str
    online: bool
    target: Optional[int]  # the version the rollout gives it (None: the template does not apply)
    running: Optional[int]  # the version it reports running (from its config_version)
    refused: Optional[int]  # the version it reports refusing
    refused_error: str
    unknown: list[str] = field(default_factory=list)  # its checks from this template now UNKNOWN


@dataclass
class Detail:
    hosts: list[HostRow]
    target_counts: dict[int, int]
    running_counts: dict[int, int]
    refused: list[HostRow]
    unknown_counts: dict[int, int]  # version -> hosts running it with a check of it UNKNOWN


def detail(db: Session, snap: rollout.Snapshot, name: str) -> Detail:
    """Per host of a template: the version the rollout gives it, the one it runs, the one it refused."""
    r = next((x for x in snap.templates if x.name == name), None)
    hosts = list(db.execute(sa.select(Host.id, Host.name, Host.unit, Host.labels, Host.online, Host.config_version,
                                      Host.config_refused_version, Host.config_refused_error)
                            .order_by(Host.unit, Host.name)).all())
    known = served(db, {h.config_version for h in hosts} | {h.config_refused_version for h in hosts})
    rows: list[HostRow] = []
    ids: dict[str, int] = {}
    for h in hosts:
        target = None
        if r is not None:
            v = rollout.version_for(r, h.name)
            if v is not None and rollout.matches(v.match, rollout.host_labels(h.unit, h.labels)):
                target = v.number
        running = known.get(h.config_version, {}).get(name)
        refused = known.get(h.config_refused_version, {}).get(name) if h.config_refused_version else None
        if target is not None or running is not None or refused is not None:
            rows.append(HostRow(h.name, h.unit, h.online, target, running, refused, h.config_refused_error))
            ids[h.name] = h.id
    targets: dict[int, int] = {}
    running_counts: dict[int, int] = {}
    for row in rows:
        if row.target is not None:
            targets[row.target] = targets.get(row.target, 0) + 1
        if row.running is not None:
            running_counts[row.running] = running_counts.get(row.running, 0) + 1
    unknown = _unknown(db, name, [r for r in rows if r.running is not None], ids)
    return Detail(rows, targets, running_counts, [x for x in rows if x.refused is not None], unknown)


def _unknown(db: Session, name: str, running: list[HostRow], ids: dict[str, int]) -> dict[int, int]:
    """Watching a rollout: hosts per version whose checks from this template report UNKNOWN (a check the
    new version configured wrongly for them, a path or port that is not there)."""
    if not running:
        return {}
    checks = {v: {c.get("name") for c in (cs or [])} for v, cs in db.execute(
        sa.select(TemplateVersion.version, TemplateVersion.checks).join(Template)
        .where(Template.name == name, TemplateVersion.version.in_({r.running for r in running})))}
    by_id = {ids[r.name]: r for r in running}
    states = db.execute(sa.select(CheckState.host_id, CheckState.check).where(
        CheckState.status == int(Status.UNKNOWN), CheckState.host_id.in_(sorted(by_id))))
    for host_id, check in states:
        r = by_id[host_id]
        if check in checks.get(r.running or 0, ()):
            r.unknown.append(check)
    out: dict[int, int] = {}
    for r in running:
        if r.unknown and r.running is not None:
            out[r.running] = out.get(r.running, 0) + 1
    return out
