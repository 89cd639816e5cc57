"""What every message-queue source reports, whatever its product: queues and links."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from checks.model import Status


@dataclass
class QueueStat:
    name: str
    depth: Optional[int]                # messages waiting (CURDEPTH, messages, Ready); None: not said
    consumers: Optional[int] = None     # IPPROCS, consumers, Getor; None: the source does not say
    producers: Optional[int] = None     # OPPROCS
    max_depth: Optional[int] = None     # MAXDEPTH (IBM MQ)
    kind: str = ""                      # local, send, classic, quorum, ...
    owner: str = ""                     # queue manager (IBM MQ) or vhost (RabbitMQ); "" when unsaid
    state: str = ""                     # as the product prints it: running, down, crashed, damaged ...

    def label(self, qualified: bool) -> str:
        """The name, or `owner:name` when queues of several owners are judged together."""
        return f"{self.owner}:{self.name}" if qualified and self.owner else self.name


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
    missing: list[str] = field(default_factory=list)  # the tool said these do not exist
    # Why a listing may lack a queue that exists (a damaged object it did not name, a queue
    # manager that did not answer): worded into "队列未列出" instead of guessing "不存在".
    unlisted_hints: list[str] = field(default_factory=list)


# Queue states that mean applications cannot put or get, and how to say so.
BAD_STATES = {"down": "不可用", "crashed": "已崩溃, 不可用", "stopped": "已停止", "minority": "不可用 (仲裁成员不足)",
              "terminated": "已停止", "damaged": "已损坏", "unavailable": "不可用",
              "suspect_damaged": "可能已损坏 (AMQ8149S 未指明对象; 此队列列出了名称却没有深度)"}

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
