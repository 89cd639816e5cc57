"""Judge a Snapshot against the configured rules and word the Outcome (in Chinese)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from checks.base import Outcome
from checks.model import MAX_METRICS, Metric, Status, worst
from checks.mq.model import KIND_ZH, QueueStat, Snapshot
from checks.thresholds import as_text, evaluate

_LITERAL = re.compile(r"^[\w.\-/:@%#$]+$")
_METRIC_BUDGET = MAX_METRICS - 4
_DETAIL_QUEUES = 60


def is_literal(pattern: str) -> bool:
    """A plain queue name (dots allowed), as opposed to a regex such as `.*\\.(dlq|DLQ)$`."""
    return bool(_LITERAL.match(pattern))


def matcher(patterns: list[str]) -> Callable[[str], bool]:
    """Names match literally or as a regex over the whole name."""
    compiled = []
    for p in patterns:
        try:
            compiled.append(re.compile(p))
        except re.error:
            compiled.append(re.compile(re.escape(p)))
    return lambda name: any(name == p or rx.fullmatch(name) for p, rx in zip(patterns, compiled))


@dataclass
class Rules:
    product: str                       # "RabbitMQ", "IBM MQ", "TongLINK/Q"
    queues: list[str]                  # names or regexes; empty: every non-system queue
    dead_letter: list[str]             # names or regexes
    dead_letter_explicit: bool         # configured (a missing one is reported) or a product default
    system_prefixes: tuple[str, ...]
    depth_warn: Optional[str] = None
    depth_crit: Optional[str] = None
    percent_warn: Optional[str] = None
    percent_crit: Optional[str] = None
    min_consumers: Optional[int] = None
    channels: list[str] = field(default_factory=list)


@dataclass
class _Judged:
    queue: QueueStat
    dlq: bool
    status: Status
    problems: list[tuple[Status, str]]
    metrics: list[Metric]


def _judge_queue(q: QueueStat, dlq: bool, r: Rules) -> _Judged:
    metrics = [Metric(f"queue_depth:{q.name}", q.depth, "", warn=None if dlq else as_text(r.depth_warn),
                      crit=None if dlq else as_text(r.depth_crit), min=0, max=q.max_depth)]
    found: list[tuple[Status, str]] = []
    if dlq:
        if q.depth > 0:
            found.append((Status.WARNING, f"死信队列 {q.name} 有 {q.depth} 条消息"))
    else:
        st = evaluate(q.depth, r.depth_warn, r.depth_crit)
        if st != Status.OK:
            found.append((st, f"队列 {q.name} 积压 {q.depth} 条 (阈值 {r.depth_warn or '-'}/{r.depth_crit or '-'})"))
    if q.max_depth:
        pct = 100.0 * q.depth / q.max_depth
        metrics.append(Metric(f"depth_percent:{q.name}", round(pct, 2), "%", warn=as_text(r.percent_warn),
                              crit=as_text(r.percent_crit), min=0, max=100))
        st = evaluate(pct, r.percent_warn, r.percent_crit)
        if st != Status.OK:
            found.append((st, f"队列 {q.name} 深度达到上限的 {pct:.0f}% ({q.depth}/{q.max_depth})"))
    if q.consumers is not None:
        low = None if r.min_consumers is None or dlq else f"{r.min_consumers}:"
        metrics.append(Metric(f"consumers:{q.name}", q.consumers, "", crit=low, min=0))
        if not dlq and r.min_consumers is not None and q.consumers < r.min_consumers:
            found.append((Status.CRITICAL, f"队列 {q.name} 消费者 {q.consumers} 个, 少于 {r.min_consumers} 个"))
    return _Judged(q, dlq, worst(st for st, _ in found), found, metrics)


def judge(snap: Snapshot, r: Rules) -> Outcome:
    is_dlq = matcher(r.dead_letter)
    wanted = matcher(r.queues)
    problems: list[tuple[Status, str]] = list(snap.problems)

    def selected(name: str) -> bool:
        if r.queues:
            return wanted(name) or is_dlq(name)
        return is_dlq(name) or not name.startswith(r.system_prefixes)

    judged = [_judge_queue(q, is_dlq(q.name), r) for q in snap.queues if selected(q.name)]
    present = {q.name for q in snap.queues}
    missing = set(snap.missing)
    if snap.complete_listing:  # a listing that lacks a configured name means the queue is gone
        missing |= {p for p in r.queues if is_literal(p) and p not in present}
        if r.dead_letter_explicit:
            missing |= {p for p in r.dead_letter if is_literal(p) and p not in present}
    for name in sorted(missing):
        if name in r.queues or not is_dlq(name):
            problems.append((Status.CRITICAL, f"队列不存在: {name}"))
        else:
            problems.append((Status.WARNING, f"死信队列不存在: {name}"))
    for p in r.queues:
        if not is_literal(p) and snap.complete_listing and not any(map(matcher([p]), present)):
            problems.append((Status.WARNING, f"没有名称匹配 {p!r} 的队列"))

    links = snap.links
    if r.channels:
        want_ch = matcher(r.channels)
        links = [lk for lk in links if lk.kind != "channel" or want_ch(lk.name)]
        seen = {lk.name for lk in links if lk.kind == "channel"}
        problems += [(Status.WARNING, f"通道 {c} 未运行 (没有通道状态)")
                     for c in r.channels if is_literal(c) and c not in seen]
    for lk in links:
        if lk.status != Status.OK:
            where = f" ({lk.detail})" if lk.detail else ""
            problems.append((lk.status, f"{KIND_ZH.get(lk.kind, lk.kind)} {lk.name} 状态 {lk.state}{where}"))

    judged.sort(key=lambda j: (-j.status.severity, -j.queue.depth, j.queue.name))
    for j in judged:
        problems += j.problems
    metrics: list[Metric] = []
    for j in judged:  # the queues in trouble first, then the deepest, within the wire limit
        if len(metrics) + len(j.metrics) > _METRIC_BUDGET:
            break
        metrics += j.metrics

    status = worst([s for s, _ in problems])
    if problems:
        problems.sort(key=lambda p: -p[0].severity)
        shown = [t for _, t in problems[:6]]
        more = f" 等 {len(problems)} 项问题" if len(problems) > 6 else ""
        summary = f"{r.product}: " + "; ".join(shown) + more
    elif not judged and not links:
        status, summary = Status.UNKNOWN, f"{r.product}: 没有找到要检查的队列"
    else:
        summary = f"{r.product}: " + _ok_summary(judged, links)
    details: dict[str, Any] = {
        "queues": [{"name": j.queue.name, "depth": j.queue.depth, "consumers": j.queue.consumers,
                    "max_depth": j.queue.max_depth, "dead_letter": j.dlq, "status": j.status.name}
                   for j in judged[:_DETAIL_QUEUES]],
        "links": [{"kind": lk.kind, "name": lk.name, "state": lk.state, "status": lk.status.name,
                   "detail": lk.detail} for lk in links[:40]],
    }
    if len(judged) > _DETAIL_QUEUES:
        details["queues_omitted"] = len(judged) - _DETAIL_QUEUES
    return Outcome(status, summary, metrics, details)


def _ok_summary(judged: list[_Judged], links: list[Any]) -> str:
    parts = []
    normal = [j for j in judged if not j.dlq]
    if normal:
        total = sum(j.queue.depth for j in normal)
        top = max(normal, key=lambda j: j.queue.depth)
        text = f"{len(normal)} 个队列正常, 共积压 {total} 条"
        if top.queue.depth:
            text += f" (最多 {top.queue.name} {top.queue.depth} 条)"
        parts.append(text)
    dlq = [j for j in judged if j.dlq]
    if dlq:
        parts.append(f"死信队列 {len(dlq)} 个为空")
    by_kind: dict[str, int] = {}
    for lk in links:
        by_kind[lk.kind] = by_kind.get(lk.kind, 0) + 1
    parts += [f"{KIND_ZH.get(k, k)} {n} 个运行正常" for k, n in by_kind.items()]
    return ", ".join(parts)
