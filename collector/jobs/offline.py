"""Agents that stopped reporting: an "agent offline" ticket after N missed heartbeats, resolved on return."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from alerts.rules import agent_fault_key
from collector.config import Settings
from collector.flows import Flow
from collector.hosts.models import Host
from collector.timefmt import text_time


def detect_offline(*, db: Session, now: datetime, settings: Settings) -> list[Any]:
    flow = Flow(db=db, settings=settings, now=now)
    cfg = settings.tickets
    # every host's allowance is at least offline_min_seconds: only hosts silent that long are loaded
    # (loading all 10,000 online hosts as ORM objects each period cost ~4 % of a collector's CPU under load)
    quiet_since = now - timedelta(seconds=cfg.offline_min_seconds)
    for host in db.scalars(sa.select(Host).where(Host.online.is_(True), Host.last_seen_at < quiet_since)):
        allowed = max(cfg.offline_missed_heartbeats * host.heartbeat_seconds, cfg.offline_min_seconds)
        assert host.last_seen_at is not None
        if now - host.last_seen_at <= timedelta(seconds=allowed):
            continue
        if flow.maintenance(span=(now, now), at=now, unit=host.unit, host=host.name, system="os"):
            continue  # servers are restarted during maintenance: not an incident
        host.online = False
        minutes = (now - host.last_seen_at).total_seconds() / 60
        flow.open(
            fault_key=agent_fault_key(host.name), at=now, fields={
                "source": "agent", "channel": "auto", "severity": "critical", "system": "os",
                "host_id": host.id, "host": host.name, "check": "agent",
                "title": f"{host.name}: 巡检代理失联",
                "description": (f"巡检代理 {host.name} 已 {minutes:.0f} 分钟未上报 "
                                f"(最后联系 {text_time(host.last_seen_at, settings.timezone)})，主机或网络可能故障"),
                "customer_unit": host.unit, "room": host.room, "labels": dict(host.labels or {}),
            })
    return flow.opened
