"""The agentless poller: inspects servers over SSH and reports like an agent per server.

Per target: one SSH connection reused across the checks of a round (and across rounds while it
lives), the checks' own code fed by remote data sources, its own spool and sender with its own
token. Targets are inspected in parallel (at most `parallel` at a time); a target that cannot be
reached gives UNKNOWN results ("SSH 无法连接: ...") for its due checks and never holds up the others.
"""
from __future__ import annotations

import logging
import math
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from agent.agentless.config import PollerConfig, TargetConfig, merge_target
from agent.agentless.files import RemoteFiles
from agent.agentless.sources import Remote
from agent.agentless.ssh import Session, SshError
from agent.central import CentralConfig, CentralPoller, CentralState
from agent.central import load as load_central
from agent.central import save as save_central
from agent.config import AgentConfig
from agent.rejected import RejectedLog
from agent.scheduler import state_path
from agent.sender import Sender
from agent.spool import Spool
from agent.statelock import lock_state_dir
from agent.stats import Stats
from checks.base import Check, Outcome, StateStore
from checks.command import CommandCheck
from checks.disk import DiskCheck
from checks.log import LogCheck
from checks.model import Result, Status, utcnow
from checks.options import ConfigError
from checks.process import ProcessCheck
from checks.runner import timeout_result, to_result
from checks.spec import CheckSpec
from checks.timed import HungCallRegistry

log = logging.getLogger(__name__)

TICK = 1.0


def build_check(spec: CheckSpec, remote: Remote, files: RemoteFiles, registry: HungCallRegistry,
                state: StateStore) -> Check:
    """The check class of the agent, given remote data sources instead of this machine's."""
    o = spec.options
    if spec.type == "disk":
        timeout = float(o.stat_timeout)
        return DiskCheck(o, state=state, statvfs=lambda mp: remote.statvfs(mp, timeout * 0.8),
                         mount_table=remote.mount_table, registry=registry)
    if spec.type == "log":
        return LogCheck(o, state=state, access=files)
    if spec.type == "process":
        return ProcessCheck(o, state=state, table=remote.process_table)
    if spec.type == "command":
        return CommandCheck(o, state=state, execute=remote.run_command)
    raise ValueError(f"check type {spec.type!r} cannot run agentless")


class Slot:
    def __init__(self, spec: CheckSpec, check: Check) -> None:
        self.spec = spec
        self.check = check
        self.next_due = 0.0
        self.thread: Optional[threading.Thread] = None

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Target:
    """One inspected server: its connection, checks, spool and sender."""

    def __init__(self, cfg: TargetConfig, emit: Optional[Callable[[Result], None]] = None,
                 readonly_state: bool = False) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self._session: Optional[Session] = None
        self._lock = threading.Lock()
        self.remote = Remote(self.session)
        self.files = RemoteFiles(self.session)
        self.registry = HungCallRegistry()  # per target: mount "/" of one host is not another's
        self.emit = emit or (lambda r: None)
        self.slots: list[Slot] = []
        for spec in cfg.checks:
            state = StateStore(state_path(cfg.agent.state_dir, spec.name), readonly=readonly_state)
            self.slots.append(Slot(spec, build_check(spec, self.remote, self.files, self.registry, state)))
        self.busy = False

    def apply(self, agent: AgentConfig) -> tuple[int, int, int]:
        """New checks (a central version): unchanged ones keep their instance and schedule; the
        caller makes sure no round of this target runs. Returns (added, kept, removed)."""
        old = {s.spec.name: s for s in self.slots}
        old_raw = self.cfg.agent.raw_checks
        slots: list[Slot] = []
        added = kept = 0
        for spec in agent.enabled_checks:
            slot = old.get(spec.name)
            if slot is not None and old_raw.get(spec.name) == agent.raw_checks[spec.name]:
                slots.append(old.pop(spec.name))
                kept += 1
                continue
            state = StateStore(state_path(agent.state_dir, spec.name))
            slots.append(Slot(spec, build_check(spec, self.remote, self.files, self.registry, state)))
            added += 1
        names = {s.spec.name for s in slots}
        for slot in old.values():
            if not slot.busy:  # a run abandoned at its timeout keeps its check until it returns
                try:
                    slot.check.state.flush()
                    slot.check.close()
                except Exception:
                    pass
        self.cfg.agent = agent
        self.slots = slots
        return added, kept, len([n for n in old if n not in names])

    def session(self) -> Session:
        with self._lock:
            if self._session is None:
                raise SshError("未连接")
            return self._session

    def connect(self) -> None:
        """Reuse the live connection, or open a new one (raises SshError)."""
        with self._lock:
            if self._session is not None and self._session.alive:
                return
            if self._session is not None:
                self._session.close()
                self._session = None
        s = Session(self.cfg.ssh)
        s.connect()
        with self._lock:
            self._session = s

    def close(self) -> None:
        with self._lock:
            s, self._session = self._session, None
        if s is not None:
            s.close()
        for slot in self.slots:
            try:
                slot.check.state.flush()  # soft state (process lists, CPU samples) kept in memory
                slot.check.close()
            except Exception:
                pass

    def due(self, now: float) -> list[Slot]:
        return [s for s in self.slots if now >= s.next_due]

    def round(self, slots: Optional[list[Slot]] = None) -> list[Result]:
        """Run the given checks (default: all) one after the other on one connection."""
        slots = self.slots if slots is None else slots
        now = time.monotonic()
        for slot in slots:
            slot.next_due = now + slot.spec.interval
        results: list[Result] = []
        try:
            self.connect()
        except SshError as e:
            log.info("target %s unreachable: %s", self.name, e)
            started = utcnow()
            for slot in slots:
                results.append(to_result(Outcome(Status.UNKNOWN, f"SSH 无法连接: {e}"), slot.spec, self.name,
                                         started, 0.0))
        else:
            for slot in slots:
                result = self._run_one(slot)
                if result is not None:
                    results.append(result)
        for r in results:
            self.emit(r)
        return results

    def _run_one(self, slot: Slot) -> Optional[Result]:
        if slot.busy:
            log.info("target %s check %s still running from its previous turn; skipped", self.name,
                     slot.spec.name)
            return None
        box: list[Result] = []
        started = utcnow()
        t0 = time.monotonic()

        def work() -> None:
            if slot.spec.type == "log":
                self.files.clear()  # a fresh view of the directories for this run
            try:
                outcome = slot.check.run()
            except SshError as e:
                outcome = Outcome(Status.UNKNOWN, f"SSH 无法连接: {e}")
            except Exception as e:  # as checks.runner: a failing check never stops the poller
                outcome = Outcome(Status.UNKNOWN, f"检查执行异常: {type(e).__name__}: {e}")
            box.append(to_result(outcome, slot.spec, self.name, started, time.monotonic() - t0))

        slot.thread = threading.Thread(target=work, name=f"poll:{self.name}:{slot.spec.name}", daemon=True)
        slot.thread.start()
        slot.thread.join(slot.spec.timeout)
        if not box:
            return timeout_result(slot.spec, self.name, started, time.monotonic() - t0)
        return box[0]


class Poller:
    def __init__(self, cfg: PollerConfig) -> None:
        self.cfg = cfg
        self.targets: list[Target] = []
        self.senders: dict[str, tuple[Spool, Sender]] = {}
        self._stop = threading.Event()
        self._lock_fd: Optional[int] = None
        # Central configuration per target (collector.central): its poll (fetched with the target's
        # token), the target's local config, and versions waiting for the main loop.
        self.central: dict[str, tuple[CentralPoller, AgentConfig]] = {}
        self._pending: dict[str, CentralConfig] = {}
        self._pending_lock = threading.Lock()

    def _open(self) -> None:
        for tc in self.cfg.targets:
            if not tc.enabled:
                continue
            ac = tc.agent
            ac.state_dir.mkdir(parents=True, exist_ok=True)
            spool = Spool(ac.state_dir / "spool.db", max_bytes=ac.spool.max_bytes, max_age=ac.spool.max_age,
                          memory_results=ac.spool.memory_results)
            sender = Sender(ac, spool, Stats(), RejectedLog(ac.state_dir / "rejected.jsonl"))
            self.senders[tc.name] = (spool, sender)
            if ac.collector.central:
                self._open_central(tc, sender)
            self.targets.append(Target(tc, self._emitter(spool, sender)))

    # -- central configuration ----------------------------------------------------------------

    def _open_central(self, tc: TargetConfig, sender: Sender) -> None:
        """The target starts on its last good central version, as an agent does."""
        local, state = tc.agent, CentralState()
        sender.central = state
        name = tc.name

        def current() -> AgentConfig:
            return tc.agent

        def deliver(doc: CentralConfig) -> None:
            with self._pending_lock:
                self._pending[name] = doc

        self.central[name] = (CentralPoller(current, state, sender.tls_context, deliver, f"target {name}: "), local)
        doc = load_central(local.state_dir)
        if doc is None:
            return
        try:
            tc.agent = merge_target(local, doc)
        except ConfigError as e:
            state.refuse(doc.version, str(e))
            log.warning("target %s: central configuration %s refused; only the local checks run: %s", name,
                        doc.version, e)
            return
        state.applied(doc.version)
        log.info("target %s: running central configuration %s kept from the last run", name, doc.version)

    def _poll_central(self) -> None:
        """One poll per target, in turn; the collector being away for one is away for all."""
        for poller, _ in self.central.values():
            if self._stop.is_set() or poller.poll_once() == "unavailable":
                return

    def _central_loop(self) -> None:
        from agent.backoff import uniform
        from agent.central import JITTER

        heartbeat = min(tc.agent.heartbeat for tc in self.cfg.targets)
        while not self._stop.is_set():
            try:
                self._poll_central()
            except Exception:
                log.exception("central configuration poll failed unexpectedly")
            self._stop.wait(heartbeat * uniform(1 - JITTER, 1 + JITTER))

    def _apply_pending(self, running: dict[str, Any]) -> None:
        """Versions the polls brought, each applied between two rounds of its target."""
        with self._pending_lock:
            waiting = dict(self._pending)
        for target in self.targets:
            doc = waiting.get(target.name)
            f = running.get(target.name)
            if doc is None or (f is not None and not f.done()):
                continue
            with self._pending_lock:
                if self._pending.get(target.name) is doc:
                    del self._pending[target.name]
            poller, local = self.central[target.name]
            try:
                merged = merge_target(local, doc)
            except ConfigError as e:
                if poller.state.refuse(doc.version, str(e)):
                    log.warning("target %s: central configuration %s refused, the running configuration stays: %s",
                                target.name, doc.version, e)
                continue
            added, kept, removed = target.apply(merged)
            self.senders[target.name][1].reconfigure(merged)
            poller.state.applied(doc.version)
            try:
                save_central(merged.state_dir, doc)
            except OSError as e:
                log.warning("target %s: cannot keep central configuration %s: %s", target.name, doc.version,
                            e.strerror or e)
            log.info("target %s: central configuration %s applied: %d checks started, %d kept, %d removed",
                     target.name, doc.version, added, kept, removed)

    @staticmethod
    def _emitter(spool: Spool, sender: Sender) -> Callable[[Result], None]:
        def emit(result: Result) -> None:
            try:
                spool.put(result)
            except (TypeError, ValueError) as e:  # as the agent: keep the result without bad data
                result.details = {"dropped": str(e)[:200]}
                result.metrics = [m for m in result.metrics if math.isfinite(m.value)]
                spool.put(result)
            sender.notify()

        return emit

    def _lock_state_dir(self) -> bool:
        ok, self._lock_fd = lock_state_dir(self.cfg.state_dir, "poller.lock", "poller")
        return ok

    def stop(self) -> None:
        self._stop.set()

    def run(self, once: bool = False) -> int:
        if not self._lock_state_dir():
            return 1
        self._open()
        for _, sender in self.senders.values():
            sender.start()
        log.info("xunjian poller started: %d targets, %d in parallel", len(self.targets), self.cfg.parallel)
        pool = ThreadPoolExecutor(max_workers=self.cfg.parallel, thread_name_prefix="target")
        running: dict[str, Any] = {}
        try:
            if once:
                self._poll_central()  # --once runs what the targets would run: their central checks too
                self._apply_pending(running)
                for f in [pool.submit(t.round) for t in self.targets]:
                    f.result()
                return 0
            if self.central:
                threading.Thread(target=self._central_loop, name="central", daemon=True).start()
            while not self._stop.is_set():
                self._apply_pending(running)
                now = time.monotonic()
                for t in self.targets:
                    f = running.get(t.name)
                    if f is not None and not f.done():
                        continue
                    due = t.due(now)
                    if due:
                        running[t.name] = pool.submit(t.round, due)
                self._stop.wait(TICK)
            return 0
        finally:
            pool.shutdown(wait=False)
            self._shutdown()

    def _shutdown(self) -> None:
        for spool, sender in self.senders.values():
            sender.stop(timeout=2)
            if spool.depth:
                sender.flush(3.0)
            spool.close()
        for t in self.targets:
            t.close()


def run_poller(config_path: str, once: bool = False) -> int:
    from agent.agentless.config import load_poller_config
    from agent.logconfig import set_level

    cfg = load_poller_config(config_path)
    set_level(cfg.log.level)
    poller = Poller(cfg)

    def on_term(signum: int, frame: Any) -> None:
        poller.stop()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    return poller.run(once=once)
