"""The application factory: nothing is built at import time."""
from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from collector import errors, migrate
from collector.apidocs import docs_urls, install_private_docs
from collector.calendar.jobs import announce_uncovered, heal_fallback
from collector.calendar.service import coverage, sync
from collector.config import Settings
from collector.db import SqliteCheckpointer, make_engine, make_sessionmaker, utcnow
from collector.jobs.offline import detect_offline
from collector.jobs.probe import probe_job
from collector.jobs.runner import Job, JobRunner
from collector.jobs.sla_timers import check_sla
from collector.limits import SecurityHeaders, install_input_guards
from collector.metrics import CalendarCollector, FleetCollector, IngestMetrics
from collector.notifications.service import deliver_due
from collector.reports import mailing
from collector.reports.service import run_monthly
from collector.rollups.retention import run_retention
from collector.rollups.service import run_rollups
from collector.runtime import runtime
from collector.serving import quiet_disconnects

log = logging.getLogger("xunjian.collector")
VERSION = "0.1.0"
REPORT_RETRY = timedelta(minutes=5)  # a failed monthly report is tried again within 10 minutes


def default_jobs(settings: Settings, factory: Any) -> list[Job]:
    every = timedelta(seconds=settings.job_interval_seconds)
    return [
        Job("agents-offline", every, lambda db, now: detect_offline(db=db, now=now, settings=settings)),
        Job("sla-timers", every, lambda db, now: check_sla(db=db, rt=runtime(settings, db), now=now)),
        Job("notifications", timedelta(seconds=min(5.0, settings.job_interval_seconds)),
            lambda db, now: deliver_due(factory=factory, config=runtime(settings).notify, now=now,
                                        senders=mailing.SENDERS)),
        Job("rollups", timedelta(minutes=5),
            lambda db, now: run_rollups(db=db, now=now, calendar=runtime(settings, db).calendar)),
        Job("retention", timedelta(hours=1), lambda db, now: run_retention(
            db=db, now=now, retention_days=settings.retention_days, tz=settings.timezone)),
        Job("monthly-report", REPORT_RETRY, lambda db, now: run_monthly(
            db=db, now=now, rt=runtime(settings, db), public_url=settings.public_url or "")),
        Job("calendar-coverage", timedelta(hours=1), lambda db, now: announce_uncovered(
            db=db, rt=runtime(settings, db), now=now)),
        Job("calendar-fallback", every, lambda db, now: heal_fallback(db=db, rt=runtime(settings, db), now=now)),
    ]


# Pydantic's words for what a user can fix by deleting a character, said in Chinese.
_VALIDATION_ZH = {"string_unicode": "文本含有无法编码的字符 (孤立的代理项), 请删除后重试"}


def create_app(settings: Settings, *, migrate_db: bool = True, start_jobs: bool | None = None,
               clock: Callable[[], datetime] = utcnow) -> FastAPI:
    """`clock` is the app's "now": ingest judges results' age and skew by it, the periodic jobs run at it,
    and the calendar's coverage (banner, /healthz, /metrics) its "today"; tests replace app.state.clock."""
    runtime(settings)  # refuse a bad SLA/calendar/notify config at start, not at the first ticket
    engine = make_engine(settings.db_url, background_checkpoints=True)
    checkpointer = SqliteCheckpointer(engine) if engine.dialect.name == "sqlite" else None
    if migrate_db:
        migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    # Reads (lists, console, /metrics) on SQLite use deferred transactions beside the writer (WAL).
    read_engine = make_engine(settings.db_url, readonly=True) if engine.dialect.name == "sqlite" else engine
    read_factory = make_sessionmaker(read_engine)
    registry = CollectorRegistry(auto_describe=False)
    ingest_metrics = IngestMetrics(registry)
    registry.register(FleetCollector(read_factory))
    clock_state: dict[str, Any] = {}  # the app's clock, read through app.state so tests can replace it
    registry.register(CalendarCollector(read_factory, lambda: runtime(settings).calendar,
                                        lambda: clock_state["app"].state.clock()))
    jobs = default_jobs(settings, factory)
    runner = JobRunner(factory, jobs, tick=min(5.0, settings.job_interval_seconds),
                       clock=lambda: clock_state["app"].state.clock())
    probe = probe_job(factory, runner.me)  # test-only, from XUNJIAN_JOB_PROBE
    if probe is not None:
        jobs.append(probe)
        runner.tick = min(runner.tick, probe.every.total_seconds())
    run_jobs = settings.jobs_enabled if start_jobs is None else start_jobs

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if checkpointer is not None:
            checkpointer.start()
        # Everything imported and built so far lives as long as the process: keep it out of the cyclic
        # GC's full collections, which otherwise walk it every few hundred requests (docs/benchmarks.md).
        gc.collect()
        gc.freeze()
        if run_jobs:
            runner.start()
        yield
        gc.unfreeze()  # an app built and stopped inside a longer-lived process (tests) leaves no frozen garbage
        ingest_writer = getattr(app.state, "ingest_writer", None)
        if ingest_writer is not None:  # queued batches are written before the engine goes
            ingest_writer.close()
        runner.stop()
        if checkpointer is not None:
            checkpointer.stop()
        engine.dispose()
        read_engine.dispose()

    app = FastAPI(title="巡检 Xunjian collector", version=VERSION, lifespan=lifespan,
                  description="Inspection results in, service tickets (系统服务单) out.",
                  **docs_urls(settings.api.public_docs))
    app.state.settings = settings
    app.state.clock = clock
    app.state.engine = engine
    app.state.sessionmaker = factory
    app.state.read_sessionmaker = read_factory
    app.state.read_engine = read_engine
    app.state.registry = registry
    app.state.metrics = ingest_metrics
    app.state.jobs = runner
    clock_state["app"] = app

    from collector.alertmanager.views import router as alertmanager_router
    from collector.hosts.views import router as hosts_router
    from collector.ingest.views import router as ingest_router
    from collector.maintenance.views import router as maintenance_router
    from collector.reports.views import router as reports_router
    from collector.results.views import router as results_router
    from collector.templates.views import router as templates_router
    from collector.tickets.views import router as tickets_router
    from collector.tickets.views import windows_router as support_windows_router
    from collector.visits.views import router as visits_router

    # Routes are matched in order: the agents' two (POST results, config poll) first.
    for router in (ingest_router, templates_router, results_router, tickets_router, hosts_router, maintenance_router,
                   alertmanager_router, reports_router, visits_router, support_windows_router):
        app.include_router(router)

    from collector.console import install as install_console

    install_console(app)  # /console pages (cookie sessions), security headers, HTML error pages

    app.add_middleware(SecurityHeaders)  # outermost: every answer, errors included
    install_input_guards(app)
    quiet_disconnects(app)
    if not settings.api.public_docs:
        install_private_docs(app)

    @app.get("/healthz", tags=["ops"], responses={503: {"description": "the database is unreachable"}})
    def healthz() -> Any:
        cal = runtime(settings).calendar
        try:
            with read_factory() as db:
                db.execute(sa.text("SELECT 1"))
                sync(db, cal)
        except Exception as e:  # whatever the database says: the answer names it
            if not errors.db_unavailable(e):
                raise
            return JSONResponse({"status": "error", "version": VERSION, "database": errors.db_name(engine),
                                 "error": errors.short(e)}, status_code=503,
                                headers={"Retry-After": str(errors.RETRY_AFTER)})
        body: dict[str, Any] = {"status": "ok", "version": VERSION, "database": errors.db_name(engine)}
        cov = coverage(cal, app.state.clock())
        if cov.uncovered:  # still 200: the collector works, on the Mon–Fri fallback for those years
            body["calendar"] = {"uncovered_years": cov.uncovered, "message": cov.message}
        return body

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        body = detail if isinstance(detail, dict) else {"message": detail}
        return JSONResponse({"detail": body}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        found = [{"loc": list(e.get("loc", [])), "error": _VALIDATION_ZH.get(e.get("type", ""), e.get("msg", ""))}
                 for e in exc.errors()[:50]]
        return JSONResponse({"detail": {"message": "请求内容不符合接口定义", "errors": found}}, status_code=422)

    errors.install(app)
    return app
