"""The judge: which queues count, dead letters, missing names, limits of the wire format."""
from __future__ import annotations

from checks.model import MAX_METRICS, Status
from checks.mq.judge import Rules, is_literal, judge, matcher
from checks.mq.model import LinkStat, QueueStat, Snapshot


def rules(**kw: object) -> Rules:
    base: dict[str, object] = {"product": "IBM MQ", "queues": [], "dead_letter": ["SYSTEM.DEAD.LETTER.QUEUE"],
                               "dead_letter_explicit": False, "system_prefixes": ("SYSTEM.",)}
    return Rules(**{**base, **kw})  # type: ignore[arg-type]


def test_literal_or_regex() -> None:
    assert is_literal("Q.VOUCHER.IN") and not is_literal(r".*\.(dlq|DLQ)$")
    m = matcher([r".*\.(dlq|DLQ)$", "Q.A"])
    assert m("Q.VOUCHER.DLQ") and m("orders.dlq") and m("Q.A") and not m("Q.AB") and not m("Q.DLQ.X")
    assert matcher(["Q(1"])("Q(1")  # not a valid regex: taken literally


def test_system_queues_skipped_but_dead_letter_kept() -> None:
    snap = Snapshot(queues=[QueueStat("SYSTEM.ADMIN.QUEUE", 5), QueueStat("SYSTEM.DEAD.LETTER.QUEUE", 3),
                            QueueStat("Q.VOUCHER.IN", 1)])
    out = judge(snap, rules())
    assert out.status == Status.WARNING
    assert out.summary == "IBM MQ: 死信队列 SYSTEM.DEAD.LETTER.QUEUE 有 3 条消息"
    assert {q["name"] for q in out.details["queues"]} == {"SYSTEM.DEAD.LETTER.QUEUE", "Q.VOUCHER.IN"}


def test_default_dead_letter_absent_is_fine_but_configured_one_is_not() -> None:
    snap = Snapshot(queues=[QueueStat("Q.VOUCHER.IN", 0)])
    assert judge(snap, rules()).status == Status.OK
    out = judge(snap, rules(dead_letter=["Q.VOUCHER.DLQ"], dead_letter_explicit=True))
    assert out.status == Status.WARNING and "死信队列未列出: Q.VOUCHER.DLQ (输出中没有该队列)" in out.summary


def test_regex_without_match_warns() -> None:
    out = judge(Snapshot(queues=[QueueStat("Q.A", 0)]), rules(queues=["Q\\.VOUCHER\\..*"]))
    assert out.status == Status.WARNING and "没有名称匹配" in out.summary


def test_links_and_problem_ordering() -> None:
    snap = Snapshot(queues=[QueueStat("Q.A", 10, max_depth=10)],
                    links=[LinkStat("channel", "TO.PEER", "RETRYING", Status.CRITICAL, "SDR 10.0.0.2(1414)"),
                           LinkStat("qmgr", "QM1", "Running", Status.OK)])
    out = judge(snap, rules(percent_warn="80", percent_crit="95"))
    assert out.status == Status.CRITICAL
    assert out.summary.startswith("IBM MQ: 通道 TO.PEER 状态 RETRYING (SDR 10.0.0.2(1414)); ")
    assert "深度达到上限的 100% (10/10)" in out.summary


def test_nothing_to_check_is_unknown() -> None:
    assert judge(Snapshot(), rules()).status == Status.UNKNOWN


def test_many_queues_stay_within_wire_limits() -> None:
    snap = Snapshot(queues=[QueueStat(f"Q.{i:03d}", i, consumers=1, max_depth=5000) for i in range(300)])
    out = judge(snap, rules(depth_warn="250"))
    assert len(out.metrics) <= MAX_METRICS
    assert "queue_depth:Q.299" in {m.name for m in out.metrics}  # the alerting ones come first
    assert out.status == Status.WARNING and "等 49 项问题" in out.summary
    assert len(out.details["queues"]) == 60 and out.details["queues_omitted"] == 240


def test_bad_queue_states_are_critical_and_worded() -> None:
    snap = Snapshot(queues=[QueueStat("q.down", None, state="down"), QueueStat("q.crash", 4, state="crashed"),
                            QueueStat("q.stop", None, state="stopped"), QueueStat("q.ok", 3, state="running"),
                            QueueStat("q.quiet", None)])
    out = judge(snap, rules(product="RabbitMQ", dead_letter=[], system_prefixes=("amq.",)))
    assert out.status == Status.CRITICAL
    for text in ("队列 q.down 不可用 (状态 down)", "队列 q.crash 已崩溃, 不可用 (状态 crashed)",
                 "队列 q.stop 已停止 (状态 stopped)", "队列 q.quiet 不可用 (没有返回消息数)"):
        assert text in out.summary
    assert "q.ok" not in out.summary and "不存在" not in out.summary
    # a queue without a count has no depth metric; the one that answered keeps its own
    assert {m.name for m in out.metrics} == {"queue_depth:q.crash", "queue_depth:q.ok"}


def test_same_name_in_two_vhosts_stays_two_queues() -> None:
    snap = Snapshot(queues=[QueueStat("orders", 7000, owner="/"), QueueStat("orders", 0, owner="fiscal")])
    out = judge(snap, rules(product="RabbitMQ", dead_letter=[], system_prefixes=("amq.",), depth_warn="1000"))
    assert (out.status, out.summary) == (Status.WARNING, "RabbitMQ: 队列 /:orders 积压 7000 条 (阈值 1000/-)")
    assert {m.name: m.value for m in out.metrics} == {"queue_depth:/:orders": 7000, "queue_depth:fiscal:orders": 0}
