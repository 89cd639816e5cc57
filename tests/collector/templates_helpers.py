"""Shared material for the template tests: template texts and a host enrolled with labels."""
from __future__ import annotations

import hashlib
from typing import Any

from collector.hosts import service as hosts


def template(name: str = "voucher-base", *, match: str = "{unit: 某市财政局}", priority: int = 10,
             interval: str = "30s", extra: str = "") -> str:
    return (f"name: {name}\nmatch: {match}\npriority: {priority}\nchecks:\n"
            f"  - {{name: voucher-log, type: log, system: voucher, interval: {interval}, "
            f"paths: ['/opt/voucher/logs/*.log'], encoding: gbk}}\n"
            f"  - {{name: root-disk, type: disk, system: os, interval: 60s, mounts: ['/']}}\n{extra}")


def enroll(app: Any, name: str, unit: str = "某市财政局", **labels: str) -> str:
    with app.state.sessionmaker() as db:
        _, token = hosts.enroll(db=db, name=name, unit=unit, labels=labels)
        db.commit()
    return token


def bucket(name: str) -> int:
    """Recomputed here, independently of collector.templates.rollout."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 100
