"""The monthly report (系统服务月报) at fleet scale: 1,000 hosts × 20 checks, a 30-day month.

Data are inserted directly: 600,000 daily rollups (result_rollups; a disk check per host with two
mounts growing at random rates, a log check with events, 18 others with a few bad runs), 2,000
tickets over the month (all channels, pauses, 15 engineers, ratings) and 300 return visits, for 10
customer units. Then it times the report for all units and for one unit: gathering the data
(builder.build), each format, and the month's 系统服务单 (forms: one page per ticket). Goal: each
format, build + render, and the forms under 10 s.

Usage: .venv/bin/python bench/bench_monthly_report.py [--db sqlite|postgres|both] [--hosts 1000]
       [--rollup-hosts 20]  (also: the daily rollup job over raw results of N hosts for one day)
       [--profile FILE]  (cProfile of the all-units build + every format + forms, as a pstats file)
PostgreSQL: a fresh schema in the `test` database at 127.0.0.1 (dropped afterwards).
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checks.model import SYSTEMS  # noqa: E402
from collector import migrate  # noqa: E402
from collector.db import make_engine, make_sessionmaker  # noqa: E402
from collector.hosts.models import Host  # noqa: E402
from collector.reports import builder, forms, html, pdf, word, xlsx  # noqa: E402
from collector.rollups.models import ResultRollup  # noqa: E402
from collector.sla import SlaPolicy, default_calendar  # noqa: E402
from collector.tickets.models import Ticket  # noqa: E402
from collector.visits.models import Visit  # noqa: E402

CST = ZoneInfo("Asia/Shanghai")
MONTH, FIRST, DAYS = "2026-09", date(2026, 9, 1), 30
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GIB = 2**30
ENGINEERS = [(f"工程师{i:02d}", f"E{i:02d}") for i in range(1, 16)]
UNITS = [f"第{i}市财政局" for i in range(1, 11)]


def populate(factory: Any, n_hosts: int, checks: int = 20) -> None:
    rnd = random.Random(42)
    now = datetime(2026, 10, 8, 9, tzinfo=CST)
    with factory() as db:
        db.execute(sa.insert(Host), [{"name": f"host{i:04d}", "unit": UNITS[i % len(UNITS)], "room": str(100 + i % 50),
                                      "labels": {}, "enrolled_at": now, "agent_version": "bench",
                                      "heartbeat_seconds": 30.0, "online": True, "dropped_total": 0}
                                     for i in range(n_hosts)])
        ids = list(db.scalars(sa.select(Host.id).order_by(Host.id)))
        rows = []
        for h in ids:
            growth = [rnd.uniform(-0.05, 1.2), rnd.uniform(0, 0.4)]
            base = [rnd.uniform(20, 70), rnd.uniform(10, 50)]
            for d in range(DAYS):
                day = FIRST + timedelta(days=d)
                for c in range(checks):
                    system = SYSTEMS[c % 4]
                    typ = "disk" if c == 0 else "log" if c == 1 else "process"
                    bad = rnd.random() < 0.02
                    disk = {}
                    if typ == "disk":
                        for m, mount in enumerate(("/", "/data")):
                            used = min(99.0, base[m] + growth[m] * d)
                            disk[mount] = {"used_percent_first": used - growth[m], "used_percent_last": used,
                                           "used_percent_min": used - growth[m], "used_percent_max": used,
                                           "free_bytes_first": (100 - used + growth[m]) * GIB,
                                           "free_bytes_last": (100 - used) * GIB, "size_bytes_last": 100.0 * GIB}
                    rows.append({"day": day, "host_id": h, "check": f"check-{c:02d}", "system": system, "type": typ,
                                 "runs": 1440, "ok": 1430 if bad else 1440, "warning": 10 if bad else 0,
                                 "critical": 0, "unknown": 0, "observed_seconds": 86400.0,
                                 "bad_seconds": 600.0 if bad else 0.0, "observed_work_seconds": 32400.0,
                                 "bad_work_seconds": 300.0 if bad else 0.0,
                                 "critical_events": float(rnd.randint(0, 3)) if typ == "log" else 0.0,
                                 "warning_events": float(rnd.randint(0, 9)) if typ == "log" else 0.0,
                                 "disk": disk, "updated_at": now})
            if len(rows) >= 20000:
                db.execute(sa.insert(ResultRollup), rows)
                rows = []
        if rows:
            db.execute(sa.insert(ResultRollup), rows)
        tickets = []
        for i in range(2000):
            at = datetime(2026, 9, 1, 8, tzinfo=CST) + timedelta(minutes=rnd.randint(0, 29 * 24 * 60))
            ack = at + timedelta(minutes=rnd.randint(5, 300))
            res = ack + timedelta(minutes=rnd.randint(10, 2000))
            name, number = ENGINEERS[i % len(ENGINEERS)]
            pauses = [[(ack + timedelta(minutes=30)).isoformat(), (ack + timedelta(minutes=90)).isoformat()]] \
                if i % 7 == 0 else []
            h = ids[rnd.randrange(len(ids))]
            tickets.append({
                "number": f"FW-202609-{i + 1:04d}", "source": "manual" if i % 3 else "check",
                "channel": ("phone", "email", "onsite", "remote", "auto")[i % 5], "status": "closed",
                "severity": ("critical", "warning", "info")[i % 3], "urgent": False, "system": SYSTEMS[i % 4],
                "host_id": h, "host": f"host{h:04d}", "check": "", "title": "凭证发送失败",
                "description": "客户来电: 电子凭证库向人民银行发送凭证失败, 队列 Q.VOUCHER.OUT 堆积, 请尽快处理。" * 2,
                "resolution": "重启消息通道并重发凭证, 已与客户确认凭证全部到达。", "customer_name": "刘科长",
                "customer_unit": UNITS[i % len(UNITS)], "room": "301", "reported_at": at, "opened_at": at,
                "acknowledged_at": ack, "resolved_at": res, "closed_at": res,
                "response_due_at": at + timedelta(hours=2),
                "response_sla": "met" if rnd.random() < 0.93 else "breached",
                "paused_seconds": 3600.0 if pauses else 0,
                "pauses": pauses, "engineer_name": name, "engineer_number": number,
                "satisfaction": rnd.choice(("满意", "满意", "满意", "满意", "基本满意", "不满意", None)),
                "satisfaction_comment": "", "occurrences": 1, "last_occurrence_at": at, "last_summary": "",
                "labels": {}, "version": 1, "created_by": "bench"})
        db.execute(sa.insert(Ticket), tickets)
        db.execute(sa.insert(Visit), [{
            "date": FIRST + timedelta(days=i % 30), "unit": UNITS[i % len(UNITS)], "customer_name": "刘科长",
            "method": ("电话", "现场", "邮件", "问卷")[i % 4], "satisfaction": ("满意", "满意", "基本满意")[i % 3],
            "answers": [{"question": "工程师是否及时响应?", "answer": "是"}], "comment": "", "ticket_id": None,
            "engineer_name": "工程师01", "engineer_number": "E01", "created_by": "bench", "created_at": now}
            for i in range(300)])
        db.commit()


def rollup_day(url: str, label: str, n_hosts: int, checks: int = 20, every: int = 60) -> None:
    """Raw results of one day (a result per check every `every` s) → build_day, in results/s."""
    from collector.results.models import ResultRow
    from collector.rollups.service import build_day

    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    day = date(2026, 9, 10)
    start = datetime(2026, 9, 10, tzinfo=CST)
    rnd = random.Random(7)
    with factory() as db:
        db.execute(sa.insert(Host), [{"name": f"raw{i:04d}", "unit": UNITS[i % len(UNITS)], "room": "", "labels": {},
                                      "enrolled_at": start, "agent_version": "bench", "heartbeat_seconds": 30.0,
                                      "online": True, "dropped_total": 0} for i in range(n_hosts)])
        ids = list(db.scalars(sa.select(Host.id)))
        n = 0
        for h in ids:
            rows = []
            for c in range(checks):
                typ = "disk" if c == 0 else "log" if c == 1 else "process"
                for k in range(86400 // every):
                    at = start + timedelta(seconds=k * every + c)
                    metrics = ([{"name": "used_percent:/", "value": 50.0}, {"name": "free_bytes:/", "value": 5e10},
                                {"name": "size_bytes:/", "value": 1e11}] if typ == "disk" else
                               [{"name": "critical_events", "value": 0}, {"name": "warning_events", "value": 1}]
                               if typ == "log" else [{"name": "count", "value": 3}])
                    rows.append({"id": uuid.uuid4(), "started_at": at, "host_id": h, "check": f"check-{c:02d}",
                                 "type": typ, "system": SYSTEMS[c % 4], "status": 1 if rnd.random() < 0.01 else 0,
                                 "summary": "", "duration": 0.01, "metrics": metrics, "details": {},
                                 "received_at": at})
            db.execute(sa.insert(ResultRow), rows)
            n += len(rows)
        db.commit()
    with factory() as db:
        _, t = timed(partial(build_day, db=db, day=day, calendar=default_calendar(), now=start + timedelta(days=2)))
        db.commit()
    print(f"{label:9} rollup of one day: {n:,} raw results of {n_hosts} hosts in {t:.2f} s = {n / t:,.0f} results/s; "
          f"1,000 hosts x {checks} checks every {every} s would take {86400 // every * checks * 1000 / (n / t):,.0f} s",
          flush=True)
    engine.dispose()


CPU: dict[str, float] = {}  # CPU seconds of this process per step: steadier than wall time on a shared machine


def timed(fn: Any) -> tuple[Any, float]:
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    CPU["last"] = time.process_time() - c
    return out, time.perf_counter() - t


def cpu_timed(fn: Any) -> tuple[Any, float, float]:
    out, wall = timed(fn)
    return out, wall, CPU["last"]


def run(url: str, label: str, n_hosts: int, profile: str = "") -> dict[str, float]:
    engine = make_engine(url)
    migrate.upgrade(engine)
    factory = make_sessionmaker(engine)
    _, t_load = timed(lambda: populate(factory, n_hosts))
    cal = default_calendar()
    now = datetime(2026, 10, 8, 9, tzinfo=CST)
    out = {"load": t_load}
    for unit in ("", UNITS[0]):
        prof = None
        if profile and not unit:
            import cProfile
            prof = cProfile.Profile()
            prof.enable()
        with factory() as db:
            data, t_build, c_build = cpu_timed(partial(builder.build, db=db, month=MONTH, unit=unit, calendar=cal,
                                                       now=now, policy=SlaPolicy()))
        _, t_x, c_x = cpu_timed(partial(xlsx.render, data))
        pdf_bytes, t_p, c_p = cpu_timed(partial(pdf.render, data))
        _, t_h, c_h = cpu_timed(partial(html.render, data))
        _, t_d, c_d = cpu_timed(partial(word.render, data))
        with factory() as db:
            form_bytes, t_f, c_f = cpu_timed(partial(_forms, db, unit))
        if prof is not None:
            prof.disable()
            prof.dump_stats(profile)
        key = "all" if not unit else "unit"
        worst = max(t_x, t_p, t_h, t_d)
        job = t_build + t_x + t_p + t_f  # what the first-working-day job makes for a unit
        out.update({f"{key}.build": t_build, f"{key}.xlsx": t_x, f"{key}.pdf": t_p, f"{key}.html": t_h,
                    f"{key}.docx": t_d, f"{key}.forms": t_f, f"{key}.worst": t_build + worst, f"{key}.job": job})
        print(f"{label:9} {'all units' if not unit else unit:10} build {t_build:6.2f} s  xlsx {t_x:6.2f} s  "
              f"pdf {t_p:6.2f} s ({pages(pdf_bytes)} pages)  html {t_h:6.2f} s  docx {t_d:6.2f} s  "
              f"forms {t_f:6.2f} s ({pages(form_bytes)} pages)  build + slowest format {t_build + worst:6.2f} s  "
              f"job (build + xlsx + pdf + forms) {job:6.2f} s  "
              f"(tickets {data.figures['tickets']}, disk rows {len(data.table('disks').rows)})\n"
              f"{'':9} {'  CPU s':10} build {c_build:6.2f}    xlsx {c_x:6.2f}    pdf {c_p:6.2f}    html {c_h:6.2f}    "
              f"docx {c_d:6.2f}    forms {c_f:6.2f}    job {c_build + c_x + c_p + c_f:6.2f}", flush=True)
    engine.dispose()
    return out


def _forms(db: Any, unit: str) -> bytes:
    return forms.render(forms.tickets_of(db, month=MONTH, unit=unit, tz=CST), tz=CST, title="bench")


def pages(pdf_bytes: bytes) -> int:
    return pdf_bytes.count(b"/Type /Page") - pdf_bytes.count(b"/Type /Pages")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--rollup-hosts", type=int, default=0, help="also time the daily rollup over raw results")
    ap.add_argument("--profile", default="", help="write a cProfile of the all-units report (first database)")
    args = ap.parse_args()
    results = {}
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", "sqlite", args.hosts, args.profile)
            if args.rollup_hosts:
                rollup_day(f"sqlite:///{tmp}/raw.db", "sqlite", args.rollup_hosts)
    if args.db in ("postgres", "both"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG)
        with admin.begin() as c:
            c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            results["postgres"] = run(f"{PG}?options=-csearch_path%3D{schema}", "postgres", args.hosts)
            if args.rollup_hosts:
                with admin.begin() as c:
                    c.execute(sa.text(f'CREATE SCHEMA "{schema}_raw"'))
                try:
                    rollup_day(f"{PG}?options=-csearch_path%3D{schema}_raw", "postgres", args.rollup_hosts)
                finally:
                    with admin.begin() as c:
                        c.execute(sa.text(f'DROP SCHEMA "{schema}_raw" CASCADE'))
        finally:
            with admin.begin() as c:
                c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    if len(results) == 2:
        s, p = results["sqlite"], results["postgres"]
        print(f"postgres/sqlite: build {p['all.build'] / s['all.build']:.2f}x, "
              f"build + slowest format {p['all.worst'] / s['all.worst']:.2f}x")


if __name__ == "__main__":
    main()
