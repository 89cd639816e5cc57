"""RabbitMQ over AMQP 0-9-1 with pika (optional extra `mq`, imported only here).

A passive queue_declare returns message_count and consumer_count without creating anything;
for a queue that does not exist the broker closes the channel with 404, so each name gets its
own channel.
"""
from __future__ import annotations

from typing import Any

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
                if e.reply_code == 404:
                    snap.missing.append(name)
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


def _reason(e: Exception) -> str:
    text = repr(e.args[0]) if e.args else type(e).__name__
    return text if len(text) < 200 else text[:200] + "..."
