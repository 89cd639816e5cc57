"""The one definition of an inspection result, used by agent, alerts and collector.

Plain dataclasses so that the agent stays light. The collector reads the wire form (`Result.to_dict`)
with its own model and limits (collector/results/wire.py); the limits below are shared.
"""
from __future__ import annotations

import enum
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, Optional


class Status(enum.IntEnum):
    """Nagios plugin semantics: the value is the plugin exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def severity(self) -> int:
        """Ordering for 'worst': CRITICAL > WARNING > UNKNOWN > OK (as Nagios/nagiosplugin do)."""
        return _SEVERITY[self]

    @property
    def label_zh(self) -> str:
        return _LABEL_ZH[self]

    @classmethod
    def parse(cls, value: Any) -> Status:
        """Accept 0..3, 'OK', 'warning', 'CRIT', ... and refuse anything else clearly."""
        if isinstance(value, Status):
            return value
        if isinstance(value, bool):
            raise ValueError(f"not a status: {value!r}")
        if isinstance(value, int):
            return cls(value)
        if isinstance(value, str):
            key = value.strip().upper()
            if key in _ALIASES:
                return _ALIASES[key]
            if key.isdigit():
                return cls(int(key))
        raise ValueError(f"not a status: {value!r} (expected OK, WARNING, CRITICAL, UNKNOWN or 0..3)")


_SEVERITY = {Status.OK: 0, Status.UNKNOWN: 1, Status.WARNING: 2, Status.CRITICAL: 3}
_LABEL_ZH = {Status.OK: "正常", Status.WARNING: "警告", Status.CRITICAL: "严重", Status.UNKNOWN: "未知"}
_ALIASES = {
    "OK": Status.OK, "WARNING": Status.WARNING, "WARN": Status.WARNING,
    "CRITICAL": Status.CRITICAL, "CRIT": Status.CRITICAL, "UNKNOWN": Status.UNKNOWN,
}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status; OK for an empty sequence."""
    result = Status.OK
    for s in statuses:
        if s.severity > result.severity:
            result = s
    return result


class System(str, enum.Enum):
    """Which supported system a check inspects."""

    VOUCHER = "voucher"  # 电子凭证库
    SEAL = "seal"        # 电子印章系统
    MQ = "mq"            # 消息中间件
    OS = "os"            # 操作系统

    @property
    def label_zh(self) -> str:
        return SYSTEM_LABELS_ZH[self.value]


SYSTEM_LABELS_ZH = {"voucher": "电子凭证库", "seal": "电子印章系统", "mq": "消息中间件", "os": "操作系统"}
SYSTEMS: tuple[str, ...] = tuple(s.value for s in System)  # the codes, in the order reports list them
SystemCode = Literal["voucher", "seal", "mq", "os"]  # the codes for pydantic (OpenAPI enum); a test keeps it = SYSTEMS

# Limits of the wire format, enforced by the collector and respected by the agent.
MAX_NAME_LEN = 128  # host, check
MAX_TYPE_LEN = 32
MAX_METRIC_NAME_LEN = 256
MAX_UNIT_LEN = 64
MAX_RANGE_LEN = 128  # a metric's warn/crit
MAX_SUMMARY_LEN = 1024
MAX_METRICS = 64
MAX_DETAIL_BYTES = 16 * 1024


@dataclass
class Metric:
    """One measured value with its thresholds, as Nagios perfdata carries it."""

    name: str
    value: float
    unit: str = ""
    warn: Optional[str] = None
    crit: Optional[str] = None
    min: Optional[float] = None
    max: Optional[float] = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "warn": self.warn,
                "crit": self.crit, "min": self.min, "max": self.max}


def uuid7(at: Optional[datetime] = None) -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7) of now or of `at`: index-friendly for the collector's
    tables, which require its time to agree with the result's started_at."""
    ms = time.time_ns() // 1_000_000 if at is None else int(at.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Result:
    """One run of one check on one host."""

    host: str
    check: str
    system: str
    status: Status
    summary: str
    started_at: datetime = field(default_factory=utcnow)
    duration: float = 0.0  # seconds
    metrics: list[Metric] = field(default_factory=list)
    type: str = ""  # check type: log, disk, ...
    details: dict[str, Any] = field(default_factory=dict)  # samples, per-item states; bounded
    # None: a UUIDv7 of started_at (the collector requires the two times to agree)
    id: uuid.UUID = None  # type: ignore[assignment]
    seq: Optional[int] = None  # per-agent sequence number, set by the agent's spool

    def __post_init__(self) -> None:
        if self.id is None:
            self.id = uuid7(self.started_at)

    def metric(self, name: str) -> Optional[Metric]:
        for m in self.metrics:
            if m.name == name:
                return m
        return None

    def to_dict(self) -> dict[str, Any]:
        """The wire shape: what the agent sends and `check --json` prints."""
        return {
            "id": str(self.id),
            "seq": self.seq,
            "host": self.host,
            "check": self.check,
            "type": self.type,
            "system": self.system,
            "status": self.status.name,
            "summary": self.summary,
            "started_at": self.started_at.isoformat(),
            "duration": round(self.duration, 6),
            "metrics": [m.to_dict() for m in self.metrics],
            "details": self.details,
        }
