"""`xunjian-collector template apply|list|show|rollback`."""
from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Optional

from sqlalchemy.orm import Session

from collector.db import utcnow
from collector.templates import service
from collector.templates.validate import TemplateError, parse_template

STARTER = Path(__file__).parent / "starter"


def starters() -> list[str]:
    return sorted(p.stem for p in STARTER.glob("*.yaml"))


def read_file(path: str) -> str:
    """A template file, or `starter:NAME` for one shipped with the collector."""
    if path.startswith("starter:"):
        name = path.split(":", 1)[1]
        if name not in starters():
            raise TemplateError(f"没有名为 {name} 的内置模板 (可用: {', '.join(starters())})")
        return (STARTER / f"{name}.yaml").read_text(encoding="utf-8")
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise TemplateError(f"{path}: 不是 UTF-8 文本 (请另存为 UTF-8 后再发布)") from None
    except OSError as e:
        raise TemplateError(f"{path}: 无法读取: {e.strerror or e}") from None


def actor(given: Optional[str]) -> str:
    if given:
        return given
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in a container: still audited as the CLI
        return "cli:unknown"


def apply_cmd(db: Session, path: str, percent: int, who: Optional[str], dry_run: bool = False) -> int:
    parsed = parse_template(read_file(path))
    if dry_run:
        service.check_percent(percent)
        print(f"校验通过 (--dry-run: 未保存): 模板 {parsed.name}, {len(parsed.checks)} 项检查: "
              + ", ".join(c["name"] for c in parsed.checks))
        return 0
    change = service.apply(db, parsed, percent=percent, actor=actor(who), now=utcnow())
    db.commit()
    if change.action == "none":
        print(f"模板 {change.name} 没有变化 (当前 v{change.version}, 发布比例 {change.percent}%)。")
    elif change.action == "percent":
        print(f"模板 {change.name} v{change.version} 的发布比例改为 {change.percent}%。")
    else:
        rest = f", 其余主机保持 v{change.previous_version}" if change.percent < 100 and change.previous_version else ""
        print(f"已发布模板 {change.name} v{change.version} 到 {change.percent}% 的匹配主机{rest}。")
    return 0


def list_cmd(db: Session, as_json: bool) -> int:
    rows = service.list_templates(db)
    if as_json:
        print(json.dumps([{"name": t.name, "version": t.current_version, "previous_version": t.previous_version,
                           "percent": t.percent, "priority": v.priority, "match": v.match,
                           "checks": len(v.checks)} for t, v in rows], ensure_ascii=False))
        return 0
    if not rows:
        print("还没有模板。内置模板: " + ", ".join(f"starter:{s}" for s in starters()))
        return 0
    print(f"{'模板':<24}{'版本':<8}{'比例':<8}{'优先级':<8}{'检查数':<8}匹配")
    for t, v in rows:
        ver = f"v{t.current_version}" + (f"/v{t.previous_version}" if t.percent < 100 and t.previous_version else "")
        match = ", ".join(f"{k}={x}" for k, x in (v.match or {}).items()) or "所有主机"
        print(f"{t.name:<24}{ver:<8}{str(t.percent) + '%':<8}{v.priority:<8}{len(v.checks):<8}{match}")
    return 0


def show_cmd(db: Session, name: str) -> int:
    t = service.get(db, name)
    if t is None:
        raise TemplateError(f"模板 {name} 不存在")
    d = service.detail(db, service.load_snapshot(db), name)
    print(f"模板 {t.name}: 当前 v{t.current_version}, 发布比例 {t.percent}%"
          + (f", 其余主机 v{t.previous_version}" if t.previous_version and t.percent < 100 else "")
          + (f", 可回退到 v{t.previous_version}" if t.previous_version else ""))
    print("应运行: " + (", ".join(f"v{k} {n} 台" for k, n in sorted(d.target_counts.items())) or "无匹配主机"))
    print("已报告运行: " + (", ".join(f"v{k} {n} 台" for k, n in sorted(d.running_counts.items())) or "无"))
    for r in d.refused:
        print(f"拒绝 v{r.refused}: {r.name} ({r.refused_error})")
    for a in service.audit(db, name, limit=10):
        print(f"{a.at:%Y-%m-%d %H:%M:%S}Z {service.ACTION_LABELS.get(a.action, a.action)} "
              f"v{a.from_version or '-'} → v{a.to_version} ({a.percent}%) {a.actor}")
    v = service.version_row(db, t.id, t.current_version)
    print("---")
    print(v.yaml_text if v else "", end="")
    return 0


def rollback_cmd(db: Session, name: str, who: Optional[str]) -> int:
    change = service.rollback(db, name, actor=actor(who), now=utcnow())
    db.commit()
    print(f"模板 {name} 已回退到 v{change.version}, 所有匹配主机在下一次心跳时生效。")
    return 0
