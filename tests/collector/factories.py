"""Builders for realistic results and batches (the agent's wire shape)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from checks.model import Metric, Result, Status


def result(host: str = "web01", check: str = "voucher-log", status: Status = Status.OK, *,
           system: str = "voucher", at: Optional[datetime] = None, critical_events: int = 0,
           seq: Optional[int] = None, type: str = "log") -> Result:
    return Result(host=host, check=check, system=system, status=status, type=type,
                  summary=f"发现 {critical_events} 条严重错误" if critical_events else "无新错误",
                  started_at=at or datetime.now(timezone.utc), duration=0.01, seq=seq,
                  metrics=[Metric("critical_events", critical_events), Metric("warning_events", 0)])


def batch(*results: Result, host: str = "web01", **agent: Any) -> dict[str, Any]:
    return {"agent": {"host": host, "version": "test", **agent}, "results": [r.to_dict() for r in results]}


def minutes_ago(n: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=n)
