"""Message middleware check (消息中间件): queue depth, consumers, dead-letter queues, links.

Sources: RabbitMQ over AMQP (`amqp`, pika), the RabbitMQ management API (`rabbitmq_api`),
`rabbitmqctl list_queues` (`rabbitmqctl`), IBM MQ through runmqsc/dspmq (`ibmmq`) and
TongLINK/Q through tlqstat (`tonglinkq`). Parsers are pure functions in their own modules; this
module only gathers the text and hands it to the judge.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional
from urllib.parse import urlsplit, urlunsplit

from checks.base import Check, Outcome
from checks.model import Status
from checks.mq import ibmmq, rabbitmq, tonglinkq
from checks.mq.command import MAX_OUTPUT, CommandFailed, run
from checks.mq.judge import Rules, is_literal, judge
from checks.mq.model import Snapshot
from checks.options import Duration, Threshold
from checks.urls import split_credentials, with_password

Source = Literal["amqp", "rabbitmq_api", "rabbitmqctl", "ibmmq", "tonglinkq"]

DEFAULT_URLS = {"amqp": "amqp://guest:guest@127.0.0.1:5672/%2F",
                "rabbitmq_api": "http://guest:guest@127.0.0.1:15672/api/queues"}
IBMMQ_MQSC = ("DISPLAY QLOCAL(*)\n"  # names only: still listed when damaged (AMQ8149S names none)
              "DISPLAY QLOCAL(*) CURDEPTH MAXDEPTH\n"
              "DISPLAY QSTATUS(*) TYPE(QUEUE) IPPROCS OPPROCS CURDEPTH\n"
              "DISPLAY CHSTATUS(*) STATUS CONNAME\n")
RABBITMQCTL = ["rabbitmqctl", "-q", "list_queues", "name", "messages", "consumers", "state"]
_PRODUCT = {"amqp": "RabbitMQ", "rabbitmq_api": "RabbitMQ", "rabbitmqctl": "RabbitMQ",
            "ibmmq": "IBM MQ", "tonglinkq": "TongLINK/Q"}
_DEAD_LETTER = {"ibmmq": ["SYSTEM.DEAD.LETTER.QUEUE"], "tonglinkq": ["TLQ.SYS.DEAD"]}
_SYSTEM = {"ibmmq": ("SYSTEM.",), "tonglinkq": ("TLQ.SYS.",)}
_API_LIMIT = 32 * 1024 * 1024


@dataclass
class MqOptions:
    source: Source = "amqp"
    url: Optional[str] = None                 # amqp://... or http://.../api/queues
    password_env: Optional[str] = None        # environment variable holding the URL's password
    password_file: Optional[str] = None       # or a file holding it (first line)
    queues: list[str] = field(default_factory=list)          # names or regexes; empty: all
    dead_letter: Optional[list[str]] = None   # names or regexes; default per product
    depth_warn: Optional[Threshold] = None    # Nagios range on each queue's depth, e.g. "1000"
    depth_crit: Optional[Threshold] = None
    percent_warn: Optional[Threshold] = "80"  # depth as % of MAXDEPTH (IBM MQ)
    percent_crit: Optional[Threshold] = "90"
    min_consumers: Optional[int] = None       # fewer consumers (IPPROCS, Getor) is CRITICAL
    channels: list[str] = field(default_factory=list)        # IBM MQ channels that must run
    qmgr: Optional[str] = None                # IBM MQ: runmqsc QMGR + dspmq -m QMGR
    qcu: Optional[str] = None                 # TongLINK/Q: tlqstat -qcu QCU -c, -snd, -rcv
    command: list[str] = field(default_factory=list)         # overrides the default command
    stdin: Optional[str] = None               # MQSC fed to runmqsc (default: IBMMQ_MQSC)
    status_commands: list[list[str]] = field(default_factory=list)  # dspmq, tlqstat -snd ...
    env: dict[str, str] = field(default_factory=dict)        # extra environment (TLQ home ...)
    command_timeout: Duration = 30.0
    io_timeout: Duration = 10.0

    def validate(self) -> None:
        if self.source == "amqp" and not [p for p in self.queues + (self.dead_letter or [])
                                          if is_literal(p)]:
            raise ValueError("source amqp needs queue names in queues (AMQP cannot list queues)")
        if self.source == "tonglinkq" and not (self.qcu or self.command):
            raise ValueError("source tonglinkq needs qcu (or command)")
        if self.password_env and self.password_file:
            raise ValueError("give password_env or password_file, not both")


class MqCheck(Check):
    type = "mq"
    Options = MqOptions

    def run(self) -> Outcome:
        o: MqOptions = self.options
        try:
            secret = self._password()
        except OSError as e:
            return Outcome(Status.UNKNOWN, f"无法读取 password_file {o.password_file}: {e.strerror or e}")
        snap = self._collect(secret)
        out = judge(snap, Rules(
            product=_PRODUCT[o.source], queues=o.queues,
            dead_letter=o.dead_letter if o.dead_letter is not None else _DEAD_LETTER.get(o.source, []),
            dead_letter_explicit=o.dead_letter is not None,
            system_prefixes=_SYSTEM.get(o.source, ("amq.",)),
            depth_warn=o.depth_warn, depth_crit=o.depth_crit, percent_warn=o.percent_warn,
            percent_crit=o.percent_crit, min_consumers=o.min_consumers, channels=o.channels))
        if secret:
            out.summary = out.summary.replace(secret, "***")
        return out

    # -- gathering ------------------------------------------------------------------------------

    def _collect(self, secret: Optional[str]) -> Snapshot:
        o: MqOptions = self.options
        if o.source == "amqp":
            from checks.mq import amqp

            names = [p for p in o.queues + (o.dead_letter or []) if is_literal(p)]
            return amqp.snapshot(self._url(secret), list(dict.fromkeys(names)), o.io_timeout)
        if o.source == "rabbitmq_api":
            return self._api(self._url(secret))
        outputs, problems = self._commands()
        if o.source == "ibmmq":
            snap = ibmmq.snapshot(outputs, o.qmgr or "")
        elif o.source == "tonglinkq":
            snap = tonglinkq.snapshot(outputs)
        else:
            snap = rabbitmq.snapshot_from_ctl(outputs, _ctl_columns(o.command or RABBITMQCTL))
        snap.problems += problems
        return snap

    def _commands(self) -> tuple[list[str], list[tuple[Status, str]]]:
        o: MqOptions = self.options
        main, stdin, extra = o.command, o.stdin, o.status_commands
        if o.source == "ibmmq":
            main = main or ["runmqsc", *([o.qmgr] if o.qmgr else [])]
            stdin = IBMMQ_MQSC if stdin is None else stdin
            extra = extra or ([["dspmq", "-m", o.qmgr]] if o.qmgr else [])
        elif o.source == "tonglinkq":
            main = main or ["tlqstat", "-qcu", str(o.qcu), "-c"]
            extra = extra or [["tlqstat", "-snd", str(o.qcu), "1"], ["tlqstat", "-rcv", str(o.qcu), "1"]]
        else:
            main = main or RABBITMQCTL
        outputs: list[str] = []
        problems: list[tuple[Status, str]] = []
        for k, argv in enumerate([main, *extra]):
            try:
                text, truncated = run(argv, stdin=stdin if k == 0 else None, timeout=o.command_timeout,
                                      env=o.env)
            except CommandFailed as e:
                problems.append((Status.UNKNOWN, str(e)))
                continue
            outputs.append(text)
            if truncated:
                problems.append((Status.UNKNOWN, f"命令输出超过 {MAX_OUTPUT // 2**20} MB 被截断, "
                                                 f"部分队列未检查: {' '.join(argv)}"))
        return outputs, problems

    def _api(self, url: str) -> Snapshot:
        o: MqOptions = self.options
        plain, headers = split_credentials(url)
        parts = urlsplit(plain)
        query = parts.query or \
            "columns=name,vhost,state,messages,messages_ready,messages_unacknowledged,consumers,type"
        plain = urlunsplit(parts._replace(query=query))
        netloc = parts.netloc
        snap = Snapshot()
        try:
            req = urllib.request.Request(plain, headers={"Accept": "application/json", **headers})
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore http_proxy
            with opener.open(req, timeout=o.io_timeout) as resp:
                body = resp.read(_API_LIMIT)
            snap.queues = rabbitmq.parse_api_queues(body.decode("utf-8"))
        except urllib.error.HTTPError as e:
            status = Status.CRITICAL if e.code in (401, 403) else Status.UNKNOWN
            snap.problems.append((status, f"管理接口 {plain} 返回 HTTP {e.code}"))
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            snap.problems.append((Status.CRITICAL, f"无法连接管理接口 {netloc}: {reason}"))
        except (ValueError, json.JSONDecodeError) as e:
            snap.problems.append((Status.UNKNOWN, f"管理接口返回内容无法解析: {e}"))
        return snap

    def _password(self) -> Optional[str]:
        o: MqOptions = self.options
        if o.password_env:
            return os.environ.get(o.password_env) or None
        if o.password_file:
            lines = Path(o.password_file).read_text(encoding="utf-8").splitlines()
            return lines[0] if lines else ""
        return None

    def _url(self, secret: Optional[str]) -> str:
        o: MqOptions = self.options
        url = o.url or DEFAULT_URLS[o.source]
        return url if secret is None else with_password(url, secret)

def _ctl_columns(argv: list[str]) -> Optional[list[str]]:
    """The columns asked of `rabbitmqctl list_queues` (for output printed without a header)."""
    if "list_queues" not in argv:
        return None
    cols = [a for a in argv[argv.index("list_queues") + 1:] if not a.startswith("-")]
    return cols or None


__all__ = ["MqCheck", "MqOptions"]
