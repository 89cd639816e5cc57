"""Daily rollups of check results: what the monthly report reads instead of raw results.

Availability: a result covers the time from its start until the next result of the same (host,
check), at most max(2 × the series' median gap, 120 s) — beyond that there is no data, and time
without data counts neither as up nor as down. A non-OK result's cover is bad time. Covers are cut
at local midnight, so each day gets exactly its own share; the `*_work_seconds` columns repeat the
figures for contracted service hours (the SLA calendar's working time).
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.db import make_engine, upsert
from collector.hosts.models import Host
from collector.results.models import ResultRow
from collector.rollups.models import ResultRollup
from collector.sla import WorkCalendar, working_time_between

LOOKAROUND = timedelta(hours=2)  # results fetched beyond the day to know who covers its edges
MIN_CAP = 120.0
TODAY_EVERY = timedelta(hours=1)  # the running day is provisional: rebuilt hourly, final the day after
DISK_MEASURES = ("used_percent", "free_bytes", "size_bytes")
METRIC_TYPES = ("log", "disk")
UPDATE_COLUMNS = ("system", "type", "runs", "ok", "warning", "critical", "unknown", "observed_seconds",
                  "bad_seconds", "observed_work_seconds", "bad_work_seconds", "critical_events",
                  "warning_events", "disk", "updated_at")
STATUS_COLUMNS = ("ok", "warning", "critical", "unknown")


@contextmanager
def reader(db: Session) -> Iterator[Session]:
    """A session for long reads. On SQLite the collector's write sessions BEGIN IMMEDIATE (they take
    the write lock at their first statement), so long reads there would stall ingest: read through a
    deferred-transaction engine on the same file instead. PostgreSQL (MVCC): the session itself."""
    bind = db.get_bind()
    if bind.dialect.name != "sqlite":
        yield db
        return
    engine = make_engine(bind.url.render_as_string(hide_password=False), readonly=True)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def day_bounds(day: date, calendar: WorkCalendar) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), calendar.tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), calendar.tz)


def build_day(*, db: Session, day: date, calendar: WorkCalendar, now: datetime) -> int:
    """(Re)compute the rollups of one local day; idempotent upsert. Returns the rows written.
    Reads one host at a time (index host_id, check, started_at), so memory stays bounded by the
    busiest host's day whatever the fleet size."""
    start, end = day_bounds(day, calendar)
    limit_end = min(end + LOOKAROUND, max(now, start))
    r = ResultRow
    rows: list[dict[str, Any]] = []
    written = 0
    # Only log and disk results carry what rollups keep: skip decoding the others' metrics JSON.
    metrics = sa.case((r.type.in_(METRIC_TYPES), r.metrics), else_=sa.null()).label("metrics")
    with reader(db) as rd:
        for host_id in list(rd.scalars(sa.select(Host.id).order_by(Host.id))):
            q = (sa.select(r.check, r.system, r.type, r.status, r.started_at, metrics)
                 .where(r.host_id == host_id, r.started_at >= start - LOOKAROUND, r.started_at < end + LOOKAROUND)
                 .order_by(r.check, r.started_at))
            series: dict[str, list[Any]] = defaultdict(list)
            for row in rd.execute(q):
                series[row.check].append(row)
            for check, items in series.items():
                out = _rollup_series(items, start, end, limit_end, calendar)
                if out is not None:
                    rows.append({"day": day, "host_id": host_id, "check": check, "updated_at": now, **out})
            if len(rows) >= 1000:
                written += _flush(db, rows)
    return written + _flush(db, rows)


def _flush(db: Session, rows: list[dict[str, Any]]) -> int:
    """Upsert and commit: each write transaction stays short (the SQLite write lock)."""
    n = len(rows)
    if rows:
        upsert(db, ResultRollup.__table__, rows, keys=("day", "host_id", "check"), update=UPDATE_COLUMNS)
        db.commit()
        rows.clear()
    return n


def _rollup_series(items: list[Any], start: datetime, end: datetime, limit_end: datetime,
                   calendar: WorkCalendar) -> dict[str, Any] | None:
    # Plain float seconds in the loop: this runs once per raw result (millions a day at fleet scale).
    s0, s1, lim = start.timestamp(), end.timestamp(), limit_end.timestamp()
    ts = [x.started_at.timestamp() for x in items]
    n = len(ts)
    inside = [i for i in range(n) if s0 <= ts[i] < s1]
    if not inside:
        return None
    typical = statistics.median([b - a for a, b in zip(ts, ts[1:])]) if n > 1 else MIN_CAP
    cap = max(2 * typical, MIN_CAP)
    observed: list[list[float]] = []
    bad: list[list[float]] = []
    for i in range(n):
        t = ts[i]
        e = min(ts[i + 1] if i + 1 < n else t + typical, t + cap, lim)
        a, b = (t if t > s0 else s0), (e if e < s1 else s1)
        if a >= b:
            continue
        _extend(observed, a, b)  # covers come in start order: merge as they come
        if items[i].status != 0:
            _extend(bad, a, b)
    counts = [0, 0, 0, 0]
    events = {"critical_events": 0.0, "warning_events": 0.0}
    disk: dict[str, dict[str, float]] = {}
    for i in inside:
        x = items[i]
        counts[x.status if 0 <= x.status <= 3 else 3] += 1
        if x.metrics:
            _metrics(x.metrics, events, disk)
    last = items[inside[-1]]
    return {
        "system": last.system, "type": last.type or "", "runs": len(inside), **dict(zip(STATUS_COLUMNS, counts)),
        "observed_seconds": _total(observed), "bad_seconds": _total(bad),
        "observed_work_seconds": _work(observed, calendar), "bad_work_seconds": _work(bad, calendar),
        **events, "disk": disk,
    }


def _extend(spans: list[list[float]], a: float, b: float) -> None:
    if spans and a <= spans[-1][1]:
        if b > spans[-1][1]:
            spans[-1][1] = b
    else:
        spans.append([a, b])


def _metrics(metrics: Iterable[dict[str, Any]], events: dict[str, float], disk: dict[str, dict[str, float]]) -> None:
    for m in metrics:
        name, value = m.get("name", ""), m.get("value")
        if not isinstance(value, (int, float)):
            continue
        if name in events:
            events[name] += value
            continue
        measure, _, mount = name.partition(":")
        if measure in DISK_MEASURES and mount:
            d = disk.setdefault(mount, {})
            d.setdefault(f"{measure}_first", value)
            d[f"{measure}_last"] = value
            d[f"{measure}_min"] = min(d.get(f"{measure}_min", value), value)
            d[f"{measure}_max"] = max(d.get(f"{measure}_max", value), value)


def _total(spans: list[list[float]]) -> float:
    return sum(b - a for a, b in spans)


def _work(spans: list[list[float]], calendar: WorkCalendar) -> float:
    utc = timezone.utc
    return sum(working_time_between(datetime.fromtimestamp(a, utc), datetime.fromtimestamp(b, utc),
                                    calendar=calendar).total_seconds() for a, b in spans)


def local_day(when: datetime, calendar: WorkCalendar) -> date:
    return when.astimezone(calendar.tz).date()


def run_rollups(*, db: Session, now: datetime, calendar: WorkCalendar) -> list[date]:
    """The job. A finished day is built once it is final (its end + LOOKAROUND has passed, so late
    neighbours are in) and never again; today is rebuilt at most every TODAY_EVERY; earlier days
    with raw results but no final rollup (first run, a collector that was down) are caught up."""
    today = local_day(now, calendar)
    with reader(db) as rd:
        first = rd.scalar(sa.select(sa.func.min(ResultRow.started_at)))
        if first is None:
            return []
        first_day = local_day(first, calendar)
        built_at = dict(rd.execute(sa.select(ResultRollup.day, sa.func.max(ResultRollup.updated_at))
                                   .where(ResultRollup.day >= first_day).group_by(ResultRollup.day)).all())
    built = []
    d = first_day
    while d <= today:
        _, end = day_bounds(d, calendar)
        last = built_at.get(d)
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=timezone.utc)
        if d == today:
            due = last is None or now - last >= TODAY_EVERY
        else:
            due = last is None or last < end + LOOKAROUND <= now
        if due and build_day(db=db, day=d, calendar=calendar, now=now):
            built.append(d)
        d += timedelta(days=1)
    return built
