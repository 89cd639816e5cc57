"""Prometheus /metrics on an explicit registry.

Status kept in the database is read at scrape time by a custom collector, so every collector
process answers the same fleet-wide figures; ingest counters are this process's own.
Labels come from bounded sets only: host, check and mount names of the fleet, never ticket ids,
messages or paths that grow without end.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.orm import Session, sessionmaker

from checks.model import SYSTEMS
from collector.hosts.models import Host
from collector.jobs.models import JobRun
from collector.results.models import CheckState
from collector.tickets.models import ACTIVE_STATUSES, Ticket


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.results = Counter("xunjian_ingest_results", "Results received from agents, by outcome.",
                               ["outcome"], registry=registry)
        self.requests = Counter("xunjian_ingest_requests_rejected", "Ingest requests refused, by reason.",
                                ["reason"], registry=registry)
        self.latency = Histogram("xunjian_ingest_request_duration_seconds", "Time to ingest one agent batch.",
                                 registry=registry,
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.groups = Histogram("xunjian_ingest_group_batches", "Agent batches written per ingest transaction "
                                "(group commit).", registry=registry, buckets=(1, 2, 4, 8, 16, 32))
        for outcome in ("accepted", "duplicate"):
            self.results.labels(outcome)
        for reason in ("unauthorized", "forbidden", "invalid", "too_large", "overloaded"):
            self.requests.labels(reason)

    def observe(self, seconds: float, accepted: int, duplicates: int) -> None:
        self.latency.observe(seconds)
        self.results.labels("accepted").inc(accepted)
        self.results.labels("duplicate").inc(duplicates)

    def group(self, batches: int) -> None:
        self.groups.observe(batches)

    def rejected(self, reason: str) -> None:
        self.requests.labels(reason).inc()


class FleetCollector:
    """Yields fleet status from the database at scrape time."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def describe(self) -> list[Metric]:
        return []  # dynamic: do not query the database at registration

    def collect(self) -> Iterator[Metric]:
        with self.factory() as db:
            yield from self._checks(db)
            yield from self._agents(db)
            yield from self._tickets(db)
            yield from self._jobs(db)

    def _checks(self, db: Session) -> Iterator[Metric]:
        status = GaugeMetricFamily("xunjian_check_status", "Latest status of each check (0 OK, 1 WARNING, "
                                   "2 CRITICAL, 3 UNKNOWN).", labels=["host", "check", "system", "type"])
        last = GaugeMetricFamily("xunjian_check_last_run_timestamp_seconds", "Start time of the latest result.",
                                 labels=["host", "check"])
        used = GaugeMetricFamily("xunjian_disk_used_ratio", "Used share of each mount (0..1), latest.",
                                 labels=["host", "mount"])
        free = GaugeMetricFamily("xunjian_disk_free_bytes", "Free bytes for non-root users, latest.",
                                 labels=["host", "mount"])
        q = sa.select(Host.name, CheckState).join(Host, Host.id == CheckState.host_id)
        for host, s in db.execute(q):
            status.add_metric([host, s.check, s.system, s.type], s.status)
            last.add_metric([host, s.check], s.last_started_at.timestamp())
            if s.type == "disk":
                _disk(s.metrics, host, used, free)
        yield from (status, last, used, free)

    def _agents(self, db: Session) -> Iterator[Metric]:
        seen = GaugeMetricFamily("xunjian_agent_last_seen_timestamp_seconds", "Last contact of each agent.",
                                 labels=["host", "unit"])
        up = GaugeMetricFamily("xunjian_host_online", "1 while the host reports, 0 once declared offline.",
                               labels=["host", "unit"])
        for h in db.scalars(sa.select(Host)):
            if h.last_seen_at is not None:
                seen.add_metric([h.name, h.unit], h.last_seen_at.timestamp())
            up.add_metric([h.name, h.unit], 1.0 if h.online else 0.0)
        yield from (seen, up)

    def _tickets(self, db: Session) -> Iterator[Metric]:
        open_ = GaugeMetricFamily("xunjian_tickets_open", "Active tickets by severity and system.",
                                  labels=["severity", "system"])
        breached = GaugeMetricFamily("xunjian_tickets_sla_breached", "Active tickets whose response SLA is "
                                     "breached.", labels=["system"])
        q = (sa.select(Ticket.severity, Ticket.system, Ticket.response_sla, sa.func.count())
             .where(Ticket.status.in_(ACTIVE_STATUSES))
             .group_by(Ticket.severity, Ticket.system, Ticket.response_sla))
        counts: dict[tuple[str, str], int] = {}
        breach: dict[str, int] = {}
        for severity, system, sla, n in db.execute(q):
            counts[(severity, system)] = counts.get((severity, system), 0) + n
            if sla == "breached":
                breach[system] = breach.get(system, 0) + n
        for sev in ("critical", "warning", "info"):
            for system in SYSTEMS:
                open_.add_metric([sev, system], counts.get((sev, system), 0))
        for system in SYSTEMS:
            breached.add_metric([system], breach.get(system, 0))
        yield from (open_, breached)
        yield from self._sla(db)

    def _sla(self, db: Session) -> Iterator[Metric]:
        # Every ticket whose response was late, whatever its status now: only grows (tickets are kept).
        total = db.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.response_sla == "breached"))
        breaches = CounterMetricFamily("xunjian_sla_breaches", "Tickets whose response SLA was breached "
                                       "(all time).", value=total or 0)
        soon = GaugeMetricFamily("xunjian_tickets_sla_due_soon", "Active tickets not yet responded to whose "
                                 "response due time is near (announced by the SLA job).", labels=["system"])
        q = (sa.select(Ticket.system, sa.func.count())
             .where(Ticket.status.in_(ACTIVE_STATUSES), Ticket.acknowledged_at.is_(None),
                    Ticket.due_soon_at.is_not(None), Ticket.response_sla.is_(None))
             .group_by(Ticket.system))
        counts: dict[str, int] = {system: n for system, n in db.execute(q)}
        for system in SYSTEMS:
            soon.add_metric([system], counts.get(system, 0))
        yield from (breaches, soon)


    def _jobs(self, db: Session) -> Iterator[Metric]:
        ok = GaugeMetricFamily("xunjian_job_last_success_timestamp_seconds", "When each periodic job last "
                               "finished without error (any collector process).", labels=["job"])
        failed = CounterMetricFamily("xunjian_job_failures", "Failed runs of each periodic job (all "
                                     "collector processes).", labels=["job"])
        for run in db.scalars(sa.select(JobRun).order_by(JobRun.name)):
            if run.last_ok_at is not None:
                ok.add_metric([run.name], run.last_ok_at.timestamp())
            failed.add_metric([run.name], run.failures or 0)
        yield from (ok, failed)


class CalendarCollector:
    """xunjian_calendar_year_covered{year}: 1 if the current / next year has holiday data, 0 on the fallback."""

    def __init__(self, factory: sessionmaker[Session], calendar: Callable[[], Any],
                 clock: Callable[[], datetime]) -> None:
        self.factory = factory
        self.calendar = calendar
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        from collector.calendar.service import coverage, sync

        cal = self.calendar()
        with self.factory() as db:
            sync(db, cal)
        covered = GaugeMetricFamily("xunjian_calendar_year_covered", "1 if the year has holiday data (package, "
                                    "file or import), 0 if its due times fall back to Mon-Fri; current and next "
                                    "year.", labels=["year"])
        for year, ok in coverage(cal, self.clock()).covered.items():
            covered.add_metric([str(year)], 1.0 if ok else 0.0)
        yield covered


def _disk(metrics: Any, host: str, used: GaugeMetricFamily, free: GaugeMetricFamily) -> None:
    for m in metrics or []:
        name = str(m.get("name", ""))
        measure, _, mount = name.partition(":")
        if not mount:
            continue
        if measure == "used_percent":
            used.add_metric([host, mount], float(m["value"]) / 100.0)
        elif measure == "free_bytes":
            free.add_metric([host, mount], float(m["value"]))
