"""`xunjian-collector calendar import|show`."""
from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Optional

from sqlalchemy.orm import Session

from collector.calendar import service
from collector.config import Settings
from collector.db import utcnow
from collector.runtime import runtime


def read_source(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: 不是 UTF-8 文本 (请另存为 UTF-8 后再导入)") from None
    except OSError as e:
        raise ValueError(f"{path}: 无法读取: {e.strerror or e}") from None


def import_cmd(*, db: Session, settings: Settings, path: str, year: Optional[int], dry_run: bool,
               actor: Optional[str]) -> int:
    text = read_source(path)
    parsed = service.parse_text(text, year=year, source="" if path == "-" else path)
    print("\n".join(service.preview(parsed.schedule)))
    if dry_run:
        print("(--dry-run: 未保存)", file=sys.stderr)
        return 0
    rt = runtime(settings, db)
    who = actor or f"cli:{_user()}"
    result = service.import_schedule(db=db, rt=rt, parsed=parsed, actor=who, now=utcnow())
    db.commit()
    for number, old, new in result.recomputed:
        note = " (不再视为超时)" if number in result.unbreached else ""
        print(f"  重算 {number}: {old} → {new}{note}")
    print(f"已导入 {parsed.schedule.year} 年工作日历 (导入记录 #{result.row.id}, 操作人 {who}); "
          f"重算了 {len(result.recomputed)} 张服务单的响应时限。", file=sys.stderr)
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in a container: still audited as the CLI
        return "unknown"


def show_cmd(*, db: Session, settings: Settings, year: int, as_json: bool) -> int:
    rt = runtime(settings, db)
    view = service.year_view(rt.calendar, year)
    if as_json:
        print(json.dumps(view, ensure_ascii=False))
        return 0
    print(f"{year} 年工作日历, 来源: {view['source']}")
    print(f"放假的工作日 ({len(view['holidays'])}): {', '.join(view['holidays']) or '无'}")
    print(f"调休上班的周末 ({len(view['workdays'])}): {', '.join(view['workdays']) or '无'}")
    return 0
