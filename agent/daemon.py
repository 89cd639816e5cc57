"""The running agent: scheduler + spool + sender + signals.

SIGHUP reloads the config (an invalid one is refused and the old one keeps running); with
`collector.central`, versions of the collector's templates are applied the same way (agent/central.py).
SIGTERM and SIGINT stop scheduling, wait briefly for running checks, spool what they finished, try once to
flush the spool and exit 0, all within STOP_BUDGET seconds: a check stuck past its timeout or a
send to a collector that does not answer is abandoned (nothing is lost: what is not acknowledged
stays spooled).
"""
from __future__ import annotations

import logging
import math
import signal
import threading
import time
from typing import Any, Optional

from agent import __version__
from agent.central import CentralConfig, CentralPoller, CentralState, load, merge, save
from agent.config import AgentConfig, listen_address, load_config
from agent.filemodes import check_token_file, tighten
from agent.logconfig import set_level
from agent.rejected import RejectedLog
from agent.scheduler import Scheduler, Slot
from agent.sender import Sender
from agent.spool import Spool, encode
from agent.statelock import lock_state_dir
from agent.stats import Stats
from checks.model import Result
from checks.options import ConfigError

log = logging.getLogger("agent")

STOP_BUDGET = 4.0  # seconds from SIGTERM to exit (systemd and operators expect a prompt stop)
STOP_WAIT = 2.0    # of which running checks get at most this
SENDER_WAIT = 0.5  # and the sender thread this to finish a request in flight
FLUSH_WAIT = 3.0   # seconds for the final send at shutdown, within what is left of STOP_BUDGET
CLOSE_RESERVE = 0.3  # kept for closing the spool and the metrics endpoint
BATCH_WAIT = 1.0   # seconds a finished result waits for the rest of its turn before it is spooled


class Agent:
    def __init__(self, cfg: AgentConfig, config_path: Optional[str] = None) -> None:
        self.cfg = cfg            # what runs: the local config with the central checks merged in
        self.local = cfg          # the local config file alone
        self.config_path = config_path
        self.central_state = CentralState()
        self.central_doc: Optional[CentralConfig] = None  # the central version that runs
        self._central_next: Optional[CentralConfig] = None  # from the poller, applied by the main loop
        self._poller: Optional[CentralPoller] = None
        self.stats = Stats()
        self.spool: Spool
        self.sender: Sender
        self.scheduler: Scheduler
        self._wake = threading.Event()
        self._stopping = False
        self._reload = False
        self._lock_fd: Optional[int] = None
        self._metrics: Any = None
        self._pending: list[Result] = []  # finished results of the turn, spooled together
        self._pending_since: Optional[float] = None
        self._pending_lock = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------------

    def run(self) -> int:
        cfg = self.cfg
        try:
            cfg.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            log.error("cannot create state_dir %s: %s", cfg.state_dir, e)
            return 1
        if not self._lock_state_dir():
            return 1
        self._restrict_files()
        if cfg.collector.central:
            self._start_with_last_central()
            cfg = self.cfg
        self.spool = Spool(cfg.state_dir / "spool.db", max_bytes=cfg.spool.max_bytes,
                           max_age=cfg.spool.max_age, memory_results=cfg.spool.memory_results)
        self.sender = Sender(cfg, self.spool, self.stats, RejectedLog(cfg.state_dir / "rejected.jsonl"))
        self.sender.central = self.central_state
        self.scheduler = Scheduler(cfg.host, cfg.state_dir, self._emit, self.stats.skip)
        self._install_signals()
        self.scheduler.apply(cfg.enabled_checks, cfg.raw_checks, cfg.host)
        self._start_metrics()
        self.sender.start()
        self._start_poller()
        log.info("xunjian-agent %s started as %s: %d checks, collector %s, spool %d results",
                 __version__, cfg.host, len(cfg.enabled_checks), cfg.collector.url, self.spool.depth)
        while not self._stopping:
            if self._reload:
                self._reload = False
                self.reload()
            doc, self._central_next = self._central_next, None
            if doc is not None:
                self.apply_central(doc)
            sleep = self.scheduler.tick()
            since = self._pending_since
            if since is not None:
                left = since + BATCH_WAIT - time.monotonic()
                if left <= 0:
                    self._spool_pending()
                else:
                    sleep = min(sleep, left)
            self._wake.wait(sleep)
            self._wake.clear()
        self._shutdown()
        return 0

    def _shutdown(self) -> None:
        deadline = time.monotonic() + STOP_BUDGET
        log.info("stopping: waiting for running checks, flushing %d spooled results", self.spool.depth)
        if self._poller is not None:
            self._poller.stop()
        self.scheduler.stop(STOP_WAIT)
        self._spool_pending()  # committed before anything that may wait on the network
        self.sender.stop(timeout=SENDER_WAIT)
        left = min(FLUSH_WAIT, deadline - CLOSE_RESERVE - time.monotonic())
        if self.spool.depth:
            if left > 0.2 and self.sender.flush(left):
                log.info("spool flushed")
            else:
                log.info("%d results stay spooled for the next start", self.spool.depth)
        if self._metrics is not None:
            self._metrics.shutdown()
        self.spool.close()
        log.info("stopped")

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _install_signals(self) -> None:
        def on_term(signum: int, frame: Any) -> None:
            self.stop()

        def on_hup(signum: int, frame: Any) -> None:
            self._reload = True
            self._wake.set()

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, on_hup)

    def _restrict_files(self) -> None:
        """Files an older agent (or another umask) left readable by others lose that."""
        state_dir = self.cfg.state_dir
        for path in [state_dir, state_dir / "checks", *state_dir.glob("*"), *state_dir.glob("checks/*")]:
            tighten(path)
        if self.cfg.collector.token_file:
            check_token_file(self.cfg.collector.token_file)

    def _lock_state_dir(self) -> bool:
        """One agent per state_dir: two would send each other's spool."""
        ok, self._lock_fd = lock_state_dir(self.cfg.state_dir, "agent.lock", "xunjian-agent")
        return ok

    def _start_metrics(self) -> None:
        if self.cfg.metrics.listen is None:
            return
        from agent.metrics import render, serve

        try:
            self._metrics = serve(listen_address(self.cfg.metrics.listen), lambda: render(self))
        except OSError as e:
            log.warning("metrics endpoint %s not started: %s", self.cfg.metrics.listen, e)

    # -- results ------------------------------------------------------------------------------

    def _emit(self, slot: Slot, result: Result) -> None:
        """From a worker thread: record, and spool with the rest of its turn. The last check of
        a turn to finish spools them all in one transaction (one fsync); a turn with a slow
        check spools what has finished after BATCH_WAIT seconds (the main loop does that)."""
        self.stats.check_status[(result.check, result.system)] = int(result.status)
        self.stats.check_duration[result.check] = result.duration
        with self._pending_lock:
            self._pending.append(result)
            first = self._pending_since is None
            if first:
                self._pending_since = time.monotonic()
        if self.scheduler.running() == 0:
            self._spool_pending()
        elif first:
            self._wake.set()  # the main loop keeps the BATCH_WAIT deadline of the first one

    def _spool_pending(self) -> None:
        with self._pending_lock:
            batch, self._pending, self._pending_since = self._pending, [], None
        if not batch:
            return
        try:
            self.spool.put_many(batch)
        except (TypeError, ValueError):  # unserialisable details or NaN metrics: keep the rest
            batch = [r for r in batch if _sendable(r)]
            self.spool.put_many(batch)
        if log.isEnabledFor(logging.DEBUG):
            for r in batch:
                log.debug("check %s: status %d in %.3fs (seq %s)", r.check, int(r.status), r.duration, r.seq)
        self.sender.notify()

    # -- reload and central configuration ------------------------------------------------------

    def reload(self) -> bool:
        if self.config_path is None:
            return False
        try:
            local = load_config(self.config_path)
        except ConfigError as e:
            log.warning("reload refused, the running configuration stays: %s", e)
            return False
        self.local = local
        self.central_state.reconsider()  # a version refused under the old file is judged again
        new = local
        if local.collector.central and self.central_doc is not None:
            merged = self._merge(local, self.central_doc, "; only the local checks run now")
            if merged is None:  # e.g. central_allow narrowed: that version no longer runs here
                self.central_doc = None
                self.central_state.dropped()
            else:
                new = merged
        elif self.central_doc is not None:
            log.info("collector.central is off: central configuration %s no longer runs", self.central_doc.version)
            self.central_doc = None
            self.central_state.applied(None)
        self._switch(new, "configuration reloaded")
        self._start_poller()
        if self._poller is not None:
            self._poller.wake()
        return True

    def apply_central(self, doc: CentralConfig) -> bool:
        """Run a new central version as a reload would (only changed checks restart), or refuse it."""
        if self.central_doc is not None and doc.version == self.central_doc.version:
            return True
        new = self._merge(self.local, doc)
        if new is None:
            return False
        self._switch(new, f"central configuration {doc.version} applied")
        self.central_doc = doc
        self.central_state.applied(doc.version)
        self._keep(doc)
        return True

    def _merge(self, local: AgentConfig, doc: CentralConfig,
               after: str = ", the running configuration stays") -> Optional[AgentConfig]:
        try:
            return merge(local, doc)
        except ConfigError as e:
            if self.central_state.refuse(doc.version, str(e)):
                log.warning("central configuration %s refused%s: %s", doc.version, after, e)
            return None

    def _keep(self, doc: CentralConfig) -> None:
        try:
            save(self.cfg.state_dir, doc)
        except OSError as e:
            log.warning("cannot keep central configuration %s in %s: %s (it runs, but not after a "
                        "restart without the collector)", doc.version, self.cfg.state_dir, e.strerror or e)

    def _start_with_last_central(self) -> None:
        """At start: the last good central version, so the checks run before (or without) the collector."""
        doc = load(self.cfg.state_dir)
        if doc is None:
            return
        merged = self._merge(self.local, doc)
        if merged is None:
            return
        merged.state_dir = self.cfg.state_dir
        self.cfg = merged
        self.central_doc = doc
        self.central_state.applied(doc.version)
        log.info("running central configuration %s kept from the last run (%d central checks)", doc.version,
                 len(merged.sources))

    def _start_poller(self) -> None:
        if not self.local.collector.central:
            if self._poller is not None:
                self._poller.stop()
                self._poller = None
            return
        if self._poller is None or not self._poller.running:
            self._poller = CentralPoller(lambda: self.cfg, self.central_state, self.sender.tls_context,
                                         self._deliver)
            self._poller.start()

    def _deliver(self, doc: CentralConfig) -> None:
        """From the poller thread: the main loop applies it."""
        self._central_next = doc
        self._wake.set()

    def _switch(self, new: AgentConfig, what: str) -> None:
        old = self.cfg
        if new.state_dir != old.state_dir:
            log.warning("reload: state_dir change to %s needs a restart; keeping %s", new.state_dir,
                        old.state_dir)
            new.state_dir = old.state_dir
        if new.metrics.listen != old.metrics.listen:
            log.warning("reload: metrics.listen change needs a restart")
        self.cfg = new
        set_level(new.log.level)
        self.spool.max_bytes = new.spool.max_bytes
        self.spool.max_age = new.spool.max_age
        self.sender.reconfigure(new)
        added, kept, removed = self.scheduler.apply(new.enabled_checks, new.raw_checks, new.host)
        self.stats.forget_checks(set(self.scheduler.slots))
        log.info("%s: %d checks started, %d kept, %d removed", what, added, kept, removed)


def _sendable(result: Result) -> bool:
    """Makes a result sendable by dropping what cannot be sent; False if even that fails."""
    try:
        encode(result.to_dict())
        return True
    except (TypeError, ValueError) as e:
        log.info("check %s produced data that cannot be sent (%s); sending without it", result.check, e)
        reason = str(e)[:200]
    result.details = {"dropped": reason}
    result.metrics = [m for m in result.metrics if math.isfinite(m.value)]
    try:
        encode(result.to_dict())
        return True
    except (TypeError, ValueError) as e2:
        log.warning("result of check %s lost: %s", result.check, e2)
        return False


def run_agent(config_path: str) -> int:
    cfg = load_config(config_path)
    set_level(cfg.log.level)
    return Agent(cfg, config_path).run()
