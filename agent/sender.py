"""The sender thread: drains the spool to the collector in batches, with backoff.

Reply handling follows the wire contract (docs in README): 200 acks every id in the batch
(rejected ones go to rejected.jsonl), 401/403 keep and retry, 413 splits, 429/503 honour
Retry-After, a 422 that names the refused results (`detail.errors[].id`/`index`) quarantines
exactly those and sends the rest, other 4xx halve down to single results, 5xx and network
trouble back off with jitter. While the collector cannot be reached (or answers 503 without
Retry-After) its /healthz is probed every PROBE_EVERY seconds, so sending resumes within
seconds of its return however long the backoff has grown.
"""
from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
import zlib
from typing import Any, Optional
from urllib.parse import urlsplit

from agent import __version__
from agent.backoff import Backoff
from agent.config import MAX_BATCH, MAX_BATCH_BYTES, AgentConfig
from agent.rejected import RejectedLog
from agent.spool import Entry, Spool
from agent.stats import Stats
from agent.throttle import Throttle
from agent.transport import Reply, connection, exchange
from checks.retry_after import parse_retry_after

log = logging.getLogger(__name__)

PATH = "/api/v1/results"
HEALTH_PATH = "/healthz"
PROBE_EVERY = 5.0  # seconds between cheap checks of a collector that could not be reached
ENVELOPE_RESERVE = 64 * 1024  # room for the agent block within the 4 MiB request limit


class Sender:
    def __init__(self, cfg: AgentConfig, spool: Spool, stats: Stats, rejected: RejectedLog) -> None:
        self.cfg = cfg
        self.spool = spool
        self.stats = stats
        self.rejected = rejected
        self.backoff = Backoff(1.0, cfg.send.max_backoff)
        self.limit = cfg.send.batch_size
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._not_before = 0.0          # monotonic: no request before this (backoff, Retry-After)
        self._probe_at = 0.0            # monotonic: next /healthz probe while backing off (0: none)
        self._last_request = 0.0        # monotonic: last request that reached the collector
        self._last_maintain = time.monotonic()
        self._throttle = Throttle(60.0)
        self._ssl_context: Any = None
        self.central: Any = None  # agent.central.CentralState when the agent pulls central config

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="sender", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def notify(self) -> None:
        """A result was spooled."""
        self._wake.set()

    def reconfigure(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.backoff.cap = cfg.send.max_backoff
        self.limit = min(self.limit, cfg.send.batch_size)
        self._ssl_context = None
        self._wake.set()

    # -- the loop -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._turn()
            except Exception:  # never let the sender die; the spool keeps everything
                log.exception("sender turn failed unexpectedly; retrying")
                self.stats.send_error("internal")
                self._stop.wait(min(self.cfg.send.max_backoff, 5.0))

    def _turn(self) -> None:
        now = time.monotonic()
        if now < self._not_before:
            if not self._probe_at or self._probe_at >= self._not_before:
                self._stop.wait(self._not_before - now)
            elif now < self._probe_at:
                self._stop.wait(self._probe_at - now)
            elif self._collector_back():
                log.info("collector answers again; sending now instead of in %.0fs", self._not_before - now)
                self._not_before = self._probe_at = 0.0
            else:
                self._probe_at = time.monotonic() + PROBE_EVERY
            return
        if now - self._last_maintain >= 30 or self.spool.degraded:
            self._last_maintain = now
            self.spool.maintain()
        heartbeat_due = self._last_request + self.cfg.heartbeat
        if self.spool.depth == 0:
            # Idle: sleep until a result arrives or a heartbeat is due (cheap on CPU).
            self._wake.clear()
            if self.spool.depth == 0 and time.monotonic() < heartbeat_due:
                self._wake.wait(min(heartbeat_due - time.monotonic(), 60.0))
                if self._stop.is_set():
                    return
            if self.spool.depth:
                # Give the other checks of this turn a moment to land in the same batch.
                self._stop.wait(self.cfg.send.flush_interval)
                if self._stop.is_set():
                    return
        entries = self.spool.peek(self.limit, MAX_BATCH_BYTES - ENVELOPE_RESERVE)
        if not entries and time.monotonic() < heartbeat_due:
            return
        self.send(entries, self.cfg.send.timeout)  # a failure sets _not_before, waited out above

    def flush(self, timeout: float) -> bool:
        """At shutdown: one try to empty the spool within `timeout` seconds; True if empty."""
        deadline = time.monotonic() + timeout
        while self.spool.depth:
            left = deadline - time.monotonic()
            if left <= 0.1:
                return False
            entries = self.spool.peek(self.limit, MAX_BATCH_BYTES - ENVELOPE_RESERVE)
            before = self.spool.depth
            self._not_before = 0.0
            self.send(entries, min(left, self.cfg.send.timeout))
            if self._not_before or self.spool.depth >= before:
                return False
        return True

    # -- one request --------------------------------------------------------------------------

    def send(self, entries: list[Entry], timeout: float) -> bool:
        """Send one batch and act on the reply; True when the next batch may go right away."""
        url = urlsplit(self.cfg.collector.url)
        body, headers = self._payload(self._body(entries))
        conn = connection(url, timeout, self._context() if url.scheme == "https" else None)
        try:
            try:
                conn.connect()
            except OSError as e:  # not there (refused, unreachable, no answer): probe for its return
                self._fail(_reason(e), f"collector unreachable ({type(e).__name__}: {e})", probe=not _tls(e))
                return False
            try:
                reply = exchange(conn, "POST", url.path.rstrip("/") + PATH, body, headers)
            except (OSError, http.client.HTTPException) as e:
                self._fail(_reason(e), f"collector unreachable ({type(e).__name__}: {e})")
                return False
        finally:
            conn.close()
        self._last_request = time.monotonic()
        code = reply.status
        if 200 <= code < 300:
            self._accepted(entries, reply)
            return True
        detail = _short(reply.body)
        if code in (401, 403):
            self.stats.send_error("auth")
            log.error("collector refused our token (http %d: %s); check collector.token; "
                      "results stay spooled", code, detail)
            self._delay(self.backoff.next_delay())
            return False
        if code == 413:
            self.stats.send_error("too_large")
            if len(entries) > 1:
                self.limit = max(1, len(entries) // 2)
                log.info("collector says batch too large (%d results); splitting", len(entries))
                return True
            self._reject(entries, f"http 413: {detail}", code)
            return True
        if code in (429, 503):
            self.stats.send_error(f"http_{code}")
            wait = parse_retry_after(reply.headers.get("retry-after"), time.time())
            probe = wait is None and code == 503  # unavailable without saying for how long: ask it
            if wait is None:
                wait = self.backoff.next_delay()
            log.info("collector busy (http %d); retrying in %.1fs", code, wait)
            self._delay(wait, probe)
            return False
        if 400 <= code < 500:
            self.stats.send_error("http_4xx")
            refused = _refused(entries, reply.body) if code == 422 else []
            if refused:
                self._quarantine(refused, code)
                return True  # the rest stay spooled and go with the next batch
            if len(entries) > 1:
                self.limit = max(1, len(entries) // 2)
                log.warning("collector refused a batch of %d (http %d: %s); retrying in halves",
                            len(entries), code, detail)
                return True
            if entries and code in (400, 422):
                self._reject(entries, f"http {code}: {detail}", code)
                return True
            self._fail("http_4xx", f"collector answered http {code}: {detail}")
            return False
        self._fail("http_5xx", f"collector answered http {code}: {detail}")
        return False

    def _accepted(self, entries: list[Entry], reply: Reply) -> None:
        rejected: dict[str, str] = {}
        try:
            data = json.loads(reply.body or b"{}")
            for item in data.get("rejected") or []:
                rejected[str(item.get("id"))] = str(item.get("error") or "")
        except (ValueError, AttributeError, TypeError):
            pass
        for e in entries:
            if e.id in rejected:
                self.rejected.write(e.body, rejected[e.id], reply.status)
                log.warning("collector rejected result %s (seq %s): %s", e.id, e.seq,
                            _short(rejected[e.id].encode("utf-8")))
        self.spool.ack(entries)
        self.stats.results_total += len(entries)
        self.stats.last_send_ok = time.time()
        if self.backoff.attempt:
            log.info("collector reachable again; %d results delivered", len(entries))
            self._throttle = Throttle(60.0)  # the next outage is reported at once
        self.backoff.reset()
        self._probe_at = 0.0
        self.limit = min(self.cfg.send.batch_size, self.limit * 2)

    def _reject(self, entries: list[Entry], error: str, status: int) -> None:
        self._quarantine([(e, error) for e in entries], status)

    def _quarantine(self, refused: list[tuple[Entry, str]], status: int) -> None:
        """Results the collector refused for good, each with its reason: kept in rejected.jsonl,
        counted, and out of the spool."""
        for e, error in refused:
            self.rejected.write(e.body, error, status)
            log.warning("collector refused result %s (seq %s) for good: %s; kept in %s",
                        e.id, e.seq, _short(error.encode("utf-8")), self.rejected.path)
        self.spool.ack([e for e, _ in refused])

    def _fail(self, reason: str, message: str, probe: bool = False) -> None:
        self.stats.send_error(reason)
        delay = self.backoff.next_delay()
        if self._throttle.ready(reason, time.monotonic()):
            log.warning("%s; %d results spooled, retrying in %.1fs", message, self.spool.depth, delay)
        else:
            log.debug("%s; retrying in %.1fs", message, delay)
        self._delay(delay, probe)

    def _delay(self, seconds: float, probe: bool = False) -> None:
        """No request for `seconds`; with `probe`, a cheap /healthz every PROBE_EVERY seconds meanwhile
        ends the wait as soon as the collector answers."""
        now = time.monotonic()
        self._not_before = now + seconds
        self._probe_at = now + PROBE_EVERY if probe else 0.0

    def _collector_back(self) -> bool:
        """GET /healthz: True when the collector answers below 500 (a proxy without that path answers too)."""
        url = urlsplit(self.cfg.collector.url)
        conn = connection(url, min(self.cfg.send.timeout, PROBE_EVERY),
                          self._context() if url.scheme == "https" else None)
        try:
            return exchange(conn, "GET", url.path.rstrip("/") + HEALTH_PATH).status < 500
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def _agent_block(self) -> dict[str, Any]:
        cfg = self.cfg
        hb = cfg.heartbeat
        return {"host": cfg.host, "version": __version__, "labels": cfg.labels,
                "heartbeat": int(hb) if hb == int(hb) else hb, "spool_depth": self.spool.depth,
                "dropped_total": self.spool.dropped_total, "skipped_total": self.stats.skipped_total,
                "rejected_total": self.rejected.total,
                **(self.central.block() if self.central is not None
                   else {"config_version": None, "config_refused": None})}

    def _body(self, entries: list[Entry]) -> bytes:
        head = json.dumps({"agent": self._agent_block()}, ensure_ascii=False, separators=(",", ":"))
        text = head[:-1] + ',"results":[' + ",".join(e.body for e in entries[:MAX_BATCH]) + "]}"
        return text.encode("utf-8")

    def _payload(self, body: bytes) -> tuple[bytes, dict[str, str]]:
        """The request body (gzipped when large) and its headers."""
        headers = {"Authorization": f"Bearer {self.cfg.token}", "Content-Type": "application/json",
                   "User-Agent": f"xunjian-agent/{__version__}"}
        if len(body) > self.cfg.send.gzip_min_bytes:
            body = gzip(body)
            headers["Content-Encoding"] = "gzip"
        return body, headers

    def tls_context(self) -> Any:
        """The TLS context for the collector (system CAs, or collector.ca_file), shared with the central poll."""
        return self._context()

    def _context(self) -> Any:
        if self._ssl_context is None:
            import ssl

            self._ssl_context = ssl.create_default_context(cafile=self.cfg.collector.ca_file)
        return self._ssl_context


def gzip(data: bytes) -> bytes:
    """gzip framing straight from zlib (wbits 31), without importing the gzip module."""
    z = zlib.compressobj(5, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def _short(body: bytes, limit: int = 200) -> str:
    """A collector reply quoted in our log: one line, short, without alarm words in upper case."""
    text = " ".join(body.decode("utf-8", "replace").split())
    return (text[:limit] + "…") if len(text) > limit else text


def _reason(e: BaseException) -> str:
    return "timeout" if isinstance(e, (socket.timeout, TimeoutError)) else "connect"


def _tls(e: BaseException) -> bool:
    """A TLS failure (an untrusted certificate...): the collector is there, probing would not help."""
    import ssl  # already loaded with http.client

    return isinstance(e, ssl.SSLError)


def _refused(entries: list[Entry], body: bytes) -> list[tuple[Entry, str]]:
    """The results a 422 names, each with its error: `{"detail": {"errors": [{"index", "id", "error"}]}}`,
    matched by id, else by index in the batch as sent; [] when the reply names none of them."""
    try:
        detail = json.loads(body or b"{}").get("detail")
        errors = detail.get("errors") if isinstance(detail, dict) else None
    except (ValueError, AttributeError):
        return []
    sent = entries[:MAX_BATCH]
    by_id = {e.id: e for e in sent}
    found: dict[str, tuple[Entry, str]] = {}
    for item in errors if isinstance(errors, list) else []:
        if not isinstance(item, dict):
            continue
        entry = by_id.get(item.get("id")) if isinstance(item.get("id"), str) else None
        index = item.get("index")
        if entry is None and isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(sent):
            entry = sent[index]
        if entry is not None:
            found.setdefault(entry.id, (entry, str(item.get("error") or "refused")))
    return list(found.values())
