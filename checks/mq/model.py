"""What every message-queue source reports, whatever its product: queues and links."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from checks.model import Status


@dataclass
class QueueStat:
    name: str
    depth: int                          # messages waiting (CURDEPTH, messages, Ready)
    consumers: Optional[int] = None     # IPPROCS, consumers, Getor; None: the source does not say
    producers: Optional[int] = None     # OPPROCS
    max_depth: Optional[int] = None     # MAXDEPTH (IBM MQ)
    kind: str = ""                      # local, send, classic, quorum, ...


@dataclass
class LinkStat:
    """A queue manager, channel or connection and how it is doing."""

    kind: str       # qmgr, channel, send_conn, recv_conn
    name: str
    state: str      # as the product prints it: Running, RETRYING, active/link
    status: Status
    detail: str = ""  # peer address, instance count...


@dataclass
class Snapshot:
    queues: list[QueueStat] = field(default_factory=list)
    links: list[LinkStat] = field(default_factory=list)
    problems: list[tuple[Status, str]] = field(default_factory=list)  # Chinese text
    complete_listing: bool = True  # False: only asked-for queues are known (AMQP passive declare)
    missing: list[str] = field(default_factory=list)  # asked for by name and reported absent


KIND_ZH = {"qmgr": "队列管理器", "channel": "通道", "send_conn": "发送连接", "recv_conn": "接收连接"}


def to_int(text: object) -> Optional[int]:
    """'1400' -> 1400; '', ' ', None or junk -> None."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, int):
        return text
    s = str(text).strip()
    try:
        return int(s)
    except ValueError:
        try:
            return int(float(s))
        except ValueError:
            return None
