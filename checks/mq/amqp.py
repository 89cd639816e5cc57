"""RabbitMQ over AMQP 0-9-1 with pika (optional extra `mq`, imported only here).

A passive queue_declare returns message_count and consumer_count without creating anything;
for a queue that does not exist the broker closes the channel with 404, so each name gets its
own channel.
"""
from __future__ import annotations

from typing import Any, Optional

from checks.model import Status
from checks.mq.model import QueueStat, Snapshot


def snapshot(url: str, names: list[str], timeout: float) -> Snapshot:
    import pika
    from pika.exceptions import AMQPConnectionError, ChannelClosedByBroker, ProbableAuthenticationError

    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.retry_delay = 0
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = timeout
    snap = Snapshot(complete_listing=False)
    try:
        conn = pika.BlockingConnection(params)
    except ProbableAuthenticationError:
        snap.problems.append((Status.CRITICAL, "RabbitMQ 认证失败 (用户名或密码错误)"))
        return snap
    except AMQPConnectionError as e:
        snap.problems.append((Status.CRITICAL, f"无法连接 RabbitMQ {params.host}:{params.port}: "
                                               f"{_reason(e)}"))
        return snap
    try:
        for name in names:
            ch = conn.channel()
            try:
                ok: Any = ch.queue_declare(queue=name, passive=True)
            except ChannelClosedByBroker as e:
                state = unavailable_state(e.reply_text) if e.reply_code == 404 else None
                if e.reply_code == 404 and state is None:
                    snap.missing.append(name)
                elif state is not None:
                    snap.queues.append(QueueStat(name=name, depth=None, state=state))
                else:
                    snap.problems.append((Status.UNKNOWN, f"查询队列 {name} 失败: {e.reply_text}"))
                continue
            snap.queues.append(QueueStat(name=name, depth=ok.method.message_count,
                                         consumers=ok.method.consumer_count))
            ch.close()
    finally:
        try:
            conn.close()
        except Exception:  # closing a broken connection must not hide the result
            pass
    return snap


# The broker answers 404 NOT_FOUND also for a queue that exists but cannot answer (RabbitMQ's
# rabbit_amqqueue priv_absent); only "no queue '...' in vhost '...'" means it does not exist.
_UNAVAILABLE = (("is down or inaccessible", "down"), ("stopped by supervisor", "stopped"),
                ("has crashed", "crashed"), ("failed to perform operation", "unavailable"))


def unavailable_state(reply_text: str) -> Optional[str]:
    """The state a 404 reply describes, or None when it says the queue does not exist."""
    text = reply_text or ""
    if "no queue" in text:
        return None
    for words, state in _UNAVAILABLE:
        if words in text:
            return state
    return "unavailable" if text else None


def _reason(e: Exception) -> str:
    text = repr(e.args[0]) if e.args else type(e).__name__
    return text if len(text) < 200 else text[:200] + "..."
