"""Judge a Snapshot against the configured rules and word the Outcome (in Chinese)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from checks.base import Outcome
from checks.model import MAX_METRICS, Metric, Status, worst
from checks.mq.model import BAD_STATES, KIND_ZH, QueueStat, Snapshot
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
    label: str
    dlq: bool
    status: Status
    problems: list[tuple[Status, str]]
    metrics: list[Metric]


def _judge_queue(q: QueueStat, label: str, dlq: bool, r: Rules) -> _Judged:
    found: list[tuple[Status, str]] = []
    what = "死信队列" if dlq else "队列"
    bad = BAD_STATES.get(q.state.strip().lower())
    if bad:
        said = "" if q.state.endswith("damaged") else f" (状态 {q.state})"
        found.append((Status.CRITICAL, f"{what} {label} {bad}{said}"))
    elif q.depth is None:  # the row is there, its counts are empty: the queue did not answer
        found.append((Status.CRITICAL, f"{what} {label} 不可用 (没有返回消息数)"))
    metrics: list[Metric] = []
    if q.depth is not None:
        _judge_depth(q, q.depth, label, dlq, r, found, metrics)
    if q.consumers is not None:
        low = None if r.min_consumers is None or dlq else f"{r.min_consumers}:"
        metrics.append(Metric(f"consumers:{label}", q.consumers, "", crit=low, min=0))
        if not dlq and r.min_consumers is not None and q.consumers < r.min_consumers:
            found.append((Status.CRITICAL, f"队列 {label} 消费者 {q.consumers} 个, 少于 {r.min_consumers} 个"))
    return _Judged(q, label, dlq, worst(st for st, _ in found), found, metrics)


def _judge_depth(q: QueueStat, depth: int, label: str, dlq: bool, r: Rules,
                 found: list[tuple[Status, str]], metrics: list[Metric]) -> None:
    metrics.append(Metric(f"queue_depth:{label}", depth, "", warn=None if dlq else as_text(r.depth_warn),
                          crit=None if dlq else as_text(r.depth_crit), min=0, max=q.max_depth))
    if dlq:
        if depth > 0:
            found.append((Status.WARNING, f"死信队列 {label} 有 {depth} 条消息"))
    else:
        st = evaluate(depth, r.depth_warn, r.depth_crit)
        if st != Status.OK:
            found.append((st, f"队列 {label} 积压 {depth} 条 (阈值 {r.depth_warn or '-'}/{r.depth_crit or '-'})"))
    if q.max_depth:
        pct = 100.0 * depth / q.max_depth
        metrics.append(Metric(f"depth_percent:{label}", round(pct, 2), "%", warn=as_text(r.percent_warn),
                              crit=as_text(r.percent_crit), min=0, max=100))
        st = evaluate(pct, r.percent_warn, r.percent_crit)
        if st != Status.OK:
            found.append((st, f"队列 {label} 深度达到上限的 {pct:.0f}% ({depth}/{q.max_depth})"))


def _absent(snap: Snapshot, r: Rules, present: set[str], is_dlq: Callable[[str], bool]) -> list[tuple[Status, str]]:
    """Configured queues the output lacks. "不存在" only when the tool said so (AMQ8147, AMQP 404);
    a listing that merely lacks a name says "未列出", with what else the output reported."""
    configured = [p for p in r.queues if is_literal(p)]
    if r.dead_letter_explicit:
        configured += [p for p in r.dead_letter if is_literal(p)]
    said = {n for n in snap.missing if n in configured or not snap.complete_listing}
    unlisted = {p for p in configured if p not in present and p not in said} if snap.complete_listing else set()
    hints = "; ".join(dict.fromkeys(snap.unlisted_hints))
    out: list[tuple[Status, str]] = []
    for name in sorted(said | unlisted):
        dl = name not in r.queues and is_dlq(name)
        what = "死信队列" if dl else "队列"
        if name in said:
            text = f"{what}不存在: {name}"
        else:
            text = f"{what}未列出: {name}" + (f" (可能原因: {hints})" if hints else " (输出中没有该队列)")
        out.append((Status.WARNING if dl else Status.CRITICAL, text))
    out += [(Status.CRITICAL, f"对象不存在: {n}") for n in sorted(set(snap.missing) - said)]
    return out


def judge(snap: Snapshot, r: Rules) -> Outcome:
    is_dlq = matcher(r.dead_letter)
    wanted = matcher(r.queues)
    problems: list[tuple[Status, str]] = list(snap.problems)
    qualified = len({q.owner for q in snap.queues}) > 1  # same names may live in several owners

    def selected(q: QueueStat) -> bool:
        if r.queues:
            return wanted(q.name) or wanted(q.label(True)) or is_dlq(q.name)
        return is_dlq(q.name) or not q.name.startswith(r.system_prefixes)

    judged = [_judge_queue(q, q.label(qualified), is_dlq(q.name), r) for q in snap.queues if selected(q)]
    present = {q.name for q in snap.queues} | {q.label(True) for q in snap.queues}
    problems += _absent(snap, r, present, is_dlq)
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

    judged.sort(key=lambda j: (-j.status.severity, -(j.queue.depth or 0), j.label))
    for j in judged:
        problems += j.problems
    problems = list(dict.fromkeys(problems))  # one message once, however often the output said it
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
        "queues": [{"name": j.queue.name, "owner": j.queue.owner, "depth": j.queue.depth,
                    "consumers": j.queue.consumers, "max_depth": j.queue.max_depth,
                    "state": j.queue.state, "dead_letter": j.dlq, "status": j.status.name}
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
        total = sum(j.queue.depth or 0 for j in normal)
        top = max(normal, key=lambda j: j.queue.depth or 0)
        text = f"{len(normal)} 个队列正常, 共积压 {total} 条"
        if top.queue.depth:
            text += f" (最多 {top.label} {top.queue.depth} 条)"
        parts.append(text)
    dlq = [j for j in judged if j.dlq]
    if dlq:
        parts.append(f"死信队列 {len(dlq)} 个为空")
    by_kind: dict[str, int] = {}
    for lk in links:
        by_kind[lk.kind] = by_kind.get(lk.kind, 0) + 1
    parts += [f"{KIND_ZH.get(k, k)} {n} 个运行正常" for k, n in by_kind.items()]
    return ", ".join(parts)
