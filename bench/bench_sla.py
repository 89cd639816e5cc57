"""Benchmark the SLA clocks: due-time computations and working time over month spans.

Peer: a straightforward interval walk (day by day, asking chinese_calendar for each day and adding
the day's working periods), run in the same process on the same inputs, also checking that both
agree. Usage: .venv/bin/python bench/bench_sla.py [--n 100000] [--peer-n 5000] [--seed 1]
"""
from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from collector.sla.calendar import WorkCalendar
from collector.sla.clock import add_working_time, working_time_between

SH = ZoneInfo("Asia/Shanghai")
PERIODS = ((8, 12), (13, 18))


def _day_intervals(day: datetime) -> list[tuple[datetime, datetime]]:
    if not chinese_calendar.is_workday(day.date()):
        return []
    return [(day.replace(hour=s), day.replace(hour=e)) for s, e in PERIODS]


def peer_add(start: datetime, d: timedelta) -> datetime:
    t = start.astimezone(SH)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    left = d
    while True:
        for s, e in _day_intervals(day):
            s = max(s, t)
            if s >= e:
                continue
            if e - s >= left:
                return s + left
            left -= e - s
        day += timedelta(days=1)


def peer_between(a: datetime, b: datetime) -> timedelta:
    a, b = a.astimezone(SH), b.astimezone(SH)
    day = a.replace(hour=0, minute=0, second=0, microsecond=0)
    total = timedelta(0)
    while day < b:
        for s, e in _day_intervals(day):
            s, e = max(s, a), min(e, b)
            if s < e:
                total += e - s
        day += timedelta(days=1)
    return total


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--peer-n", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = datetime(2025, 1, 1, tzinfo=SH)
    span = int((datetime(2026, 11, 30, tzinfo=SH) - base).total_seconds())

    def instant() -> datetime:
        return base + timedelta(seconds=rng.randrange(span))

    starts = [instant() for _ in range(args.n)]
    durs = [timedelta(hours=rng.choice((2, 4))) for _ in range(args.n)]
    months = [(s, s + timedelta(days=rng.uniform(28, 31))) for s in starts]
    pauses = [[(s + timedelta(hours=1), s + timedelta(hours=3)), (s + timedelta(days=2), s + timedelta(days=3))]
              for s in starts]
    cal = WorkCalendar()
    cal.year_total_us(2025), cal.year_total_us(2026)  # build prefix sums outside the timings

    rows: list[tuple[str, int, float, float | None]] = []
    due = [add_working_time(s, d, calendar=cal) for s, d in zip(starts[:1000], durs[:1000])]
    assert due == [peer_add(s, d) for s, d in zip(starts[:1000], durs[:1000])]
    got = [working_time_between(a, b, calendar=cal) for a, b in months[:1000]]
    assert got == [peer_between(a, b) for a, b in months[:1000]]

    t = timed(lambda: [add_working_time(s, d, calendar=cal) for s, d in zip(starts, durs)])
    k = args.peer_n
    tp = timed(lambda: [peer_add(s, d) for s, d in zip(starts[:k], durs[:k])])
    rows.append(("add_working_time 2h/4h", args.n, t, tp / k))
    t = timed(lambda: [working_time_between(a, b, calendar=cal) for a, b in months])
    tp = timed(lambda: [peer_between(a, b) for a, b in months[:k]])
    rows.append(("working_time_between month span", args.n, t, tp / k))
    t = timed(lambda: [add_working_time(s, d, pauses=p, calendar=cal) for s, d, p in zip(starts, durs, pauses)])
    rows.append(("add_working_time + 2 pauses", args.n, t, None))
    t = timed(lambda: [working_time_between(a, b, pauses=p, calendar=cal)
                       for (a, b), p in zip(months, pauses)])
    rows.append(("working_time_between month + 2 pauses", args.n, t, None))

    print(f"{'operation':40} {'n':>8} {'total s':>8} {'µs/op':>8} {'peer µs/op':>11} {'speed-up':>9}")
    for name, n, total, peer in rows:
        per = total / n * 1e6
        peer_s = f"{peer * 1e6:11.1f}" if peer is not None else f"{'-':>11}"
        ratio = f"{peer * 1e6 / per:8.1f}x" if peer is not None else f"{'-':>9}"
        print(f"{name:40} {n:8d} {total:8.3f} {per:8.2f} {peer_s} {ratio}")


if __name__ == "__main__":
    main()
