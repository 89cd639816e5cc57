"""Prometheus Alertmanager webhook (payload version 4) → tickets.

Each alert's own `status` and `fingerprint` decide, never the group's status or `endsAt`: a firing
alert opens its ticket (or notes a new occurrence when it fired again after resolving), a resolved
alert resolves it. Redelivery of the same notification changes nothing.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from checks.model import SYSTEMS
from collector.config import Settings
from collector.flows import Flow
from collector.hosts import service as hosts
from collector.tickets import service as tickets
from collector.timefmt import parse_iso

SEVERITY = {"critical": "critical", "error": "critical", "page": "critical", "major": "critical",
            "warning": "warning", "warn": "warning", "minor": "warning", "info": "info", "none": "info"}
SLACK = timedelta(seconds=1)  # startsAt as Alertmanager prints it vs. as stored


def fault_key(fingerprint: str) -> str:
    return f"am:{fingerprint}"


def receive(*, db: Session, payload: dict[str, Any], now: datetime, settings: Settings) -> dict[str, int]:
    counts = {"opened": 0, "updated": 0, "resolved": 0, "ignored": 0, "suppressed": 0}
    flow = Flow(db=db, settings=settings, now=now)
    for alert in payload.get("alerts") or []:
        if not isinstance(alert, dict) or not alert.get("fingerprint"):
            counts["ignored"] += 1
            continue
        labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
        ann = {str(k): str(v) for k, v in (alert.get("annotations") or {}).items()}
        key = fault_key(str(alert["fingerprint"]))[:300]
        starts = _time(alert.get("startsAt")) or now
        active = tickets.active_for_fault(db=db, fault_key=key)
        if alert.get("status") == "resolved":
            if active is not None and starts >= active.opened_at.replace(microsecond=0) - SLACK:
                note = f"Alertmanager: 告警 {labels.get('alertname', '')} 已恢复"
                flow.resolve(active, at=_time(alert.get("endsAt")) or now, note=note)
                counts["resolved"] += 1
            else:
                counts["ignored"] += 1
            continue
        if active is not None:
            if starts > active.last_occurrence_at:
                flow.occurrence(active, at=starts, status=2, summary=_summary(labels, ann), severity=_severity(labels))
                counts["updated"] += 1
            else:
                counts["ignored"] += 1  # the same firing alert delivered again (repeat_interval, retries)
            continue
        last = tickets.last_for_fault(db=db, fault_key=key)
        if last is not None and last.opened_at >= starts:
            counts["ignored"] += 1  # an old firing notification arriving after its resolution
            continue
        host_name = labels.get("host") or labels.get("hostname") or labels.get("instance", "").split(":")[0]
        host = hosts.get_by_name(db=db, name=host_name) if host_name else None
        unit = labels.get("unit") or (host.unit if host else "")
        system = labels.get("system") if labels.get("system") in SYSTEMS else "os"
        # Judged at delivery: an alert still firing after its maintenance window ends opens its ticket
        # at the next notification (repeat_interval), with the SLA clock starting at the window's end.
        span = (min(starts, now), max(starts, now))
        if flow.maintenance(span=span, at=now, unit=unit, host=host_name, system=system):
            counts["suppressed"] += 1
            continue
        began_in = flow.maintenance(span=span, at=starts, unit=unit, host=host_name, system=system)
        _, created = flow.open(
            fault_key=key, at=starts, reported_at=began_in.ends_at if began_in is not None else None,
            fields={"source": "alertmanager", "channel": "auto", "severity": _severity(labels), "urgent": False,
                    "system": system, "host_id": host.id if host else None, "host": host_name[:128],
                    "check": labels.get("alertname", "")[:128], "title": _summary(labels, ann)[:300],
                    "description": _description(labels, ann, alert), "customer_unit": unit,
                    "room": host.room if host else labels.get("room", ""), "last_status": 2,
                    "last_summary": _summary(labels, ann), "labels": labels})
        if created:
            counts["opened"] += 1
    return counts


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    try:
        text = value
        if "." in text:  # Go prints nanoseconds; Python takes microseconds
            head, _, rest = text.partition(".")
            digits = "".join(c for c in rest if c.isdigit())
            zone = rest[len(digits):]
            text = f"{head}.{digits[:6]}{zone}"
        return parse_iso(text)
    except ValueError:
        return None


def _severity(labels: dict[str, str]) -> str:
    return SEVERITY.get(labels.get("severity", "").lower(), "warning")


def _summary(labels: dict[str, str], ann: dict[str, str]) -> str:
    return ann.get("summary") or ann.get("message") or labels.get("alertname", "Alertmanager 告警")


def _description(labels: dict[str, str], ann: dict[str, str], alert: dict[str, Any]) -> str:
    lines = [ann.get("description") or _summary(labels, ann)]
    lines.append("标签: " + ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
    if alert.get("generatorURL"):
        lines.append(f"来源: {alert['generatorURL']}")
    return "\n".join(lines)[:20000]
