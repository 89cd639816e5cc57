"""TCP port check: connect time, optionally a banner exchange (send bytes, expect bytes back)."""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Optional

from checks.base import Check, Outcome
from checks.model import Metric, Status
from checks.options import Duration, Size, Threshold
from checks.thresholds import as_text, evaluate


@dataclass
class TcpOptions:
    host: str
    port: int
    connect_timeout: Duration = 10.0  # also bounds each read of the banner
    warn: Optional[Threshold] = None            # on connect_seconds, e.g. "0.5"
    crit: Optional[Threshold] = None
    send: Optional[str] = None                  # text sent after connecting (UTF-8), e.g. "PING\r\n"
    expect: Optional[str] = None                # text that must appear in what the peer sends back
    read_bytes: Size = 4096               # read at most this much while waiting for `expect`

    def validate(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not 1..65535")
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive")


class TcpCheck(Check):
    type = "tcp"
    Options = TcpOptions

    def run(self) -> Outcome:
        o: TcpOptions = self.options
        where = f"{o.host}:{o.port}"
        t0 = time.monotonic()
        try:
            sock = socket.create_connection((o.host, o.port), timeout=o.connect_timeout)
        except ConnectionRefusedError:
            return Outcome(Status.CRITICAL, f"TCP {where} 连接被拒绝 (端口未监听)")
        except socket.timeout:
            return Outcome(Status.CRITICAL, f"TCP {where} 连接超时 ({o.connect_timeout:g} 秒)")
        except socket.gaierror as e:
            return Outcome(Status.CRITICAL, f"TCP {where} 主机名无法解析: {e}")
        except OSError as e:
            return Outcome(Status.CRITICAL, f"TCP {where} 连接失败: {e.strerror or e}")
        elapsed = time.monotonic() - t0
        metric = Metric("connect_seconds", round(elapsed, 6), "s", warn=as_text(o.warn),
                        crit=as_text(o.crit), min=0)
        status = evaluate(elapsed, o.warn, o.crit)
        summary = f"TCP {where} 连接成功, 耗时 {elapsed * 1000:.1f} 毫秒"
        details: dict[str, object] = {}
        with sock:
            if o.send is not None or o.expect is not None:
                ok, text, received = self._exchange(sock, o)
                details["received"] = received.decode("utf-8", "replace")[:512]
                if not ok:
                    return Outcome(Status.CRITICAL, f"TCP {where} {text}", [metric], details)
                summary += f", {text}"
        if status != Status.OK:
            summary += f" (阈值 警告 {o.warn or '-'} / 严重 {o.crit or '-'})"
        return Outcome(status, summary, [metric], details)

    @staticmethod
    def _exchange(sock: socket.socket, o: TcpOptions) -> tuple[bool, str, bytes]:
        try:
            if o.send is not None:
                sock.sendall(o.send.encode("utf-8"))
            if o.expect is None:
                return True, "已发送数据", b""
            want = o.expect.encode("utf-8")
            got = b""
            while want not in got and len(got) < o.read_bytes:
                try:
                    chunk = sock.recv(min(4096, o.read_bytes - len(got)))
                except socket.timeout:
                    if got:
                        break  # judge what the peer said
                    raise
                if not chunk:
                    break
                got += chunk
                # A banner comes in one go: once something arrived, do not wait long for more.
                sock.settimeout(min(o.connect_timeout, 1.0))
        except socket.timeout:
            return False, f"等待响应超时 ({o.connect_timeout:g} 秒), 未收到 {o.expect!r}", b""
        except OSError as e:
            return False, f"收发数据失败: {e.strerror or e}", b""
        if want in got:
            return True, f"响应包含 {o.expect!r}", got
        shown = got[:80].decode("utf-8", "replace")
        return False, f"响应不含 {o.expect!r} (收到 {shown!r})", got
