"""Disk usage history as inline SVG, drawn on the server (no JavaScript chart library)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from collector.timefmt import zone

WIDTH, HEIGHT = 1000, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 24, 10, 26
COLORS = ("#1f6feb", "#d4380d", "#389e0d", "#a0522d", "#722ed1", "#08979c", "#c41d7f", "#595959")
MAX_POINTS = 400  # per series; more than the chart has pixels for
MAX_DOTS = 60


@dataclass
class Series:
    mount: str
    color: str
    points: str  # SVG polyline "x,y x,y ..."
    dots: list[tuple[float, float]]  # markers, so a short history (or one result) still shows
    last: float
    peak: float


@dataclass
class Chart:
    width: int
    height: int
    series: list[Series]
    grid: list[tuple[float, str]]  # (y, label)
    ticks: list[tuple[float, str]]  # (x, label)
    plot: tuple[int, int, int, int]  # left, top, right, bottom


def _thin(points: list[tuple[datetime, float]]) -> list[tuple[datetime, float]]:
    """Keep at most MAX_POINTS, each the highest value of its bucket (a peak must not vanish)."""
    if len(points) <= MAX_POINTS:
        return points
    size = len(points) / MAX_POINTS
    out = []
    for i in range(MAX_POINTS):
        bucket = points[int(i * size):int((i + 1) * size)] or points[-1:]
        out.append(max(bucket, key=lambda p: p[1]))
    return out


def disk_chart(history: dict[str, list[tuple[datetime, float]]], start: datetime, end: datetime,
               tz: str) -> Chart:
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    total = max((end - start).total_seconds(), 1.0)

    def x(at: datetime) -> float:
        return x0 + (x1 - x0) * min(max((at - start).total_seconds() / total, 0.0), 1.0)

    def y(pct: float) -> float:
        return y1 - (y1 - y0) * min(max(pct, 0.0), 100.0) / 100.0

    series = []
    for i, (mount, points) in enumerate(history.items()):
        if not points:
            continue
        thin = _thin(points)
        xy = [(round(x(a), 1), round(y(v), 1)) for a, v in thin]
        series.append(Series(mount=mount, color=COLORS[i % len(COLORS)],
                             points=" ".join(f"{px},{py}" for px, py in xy),
                             dots=xy if len(xy) <= MAX_DOTS else xy[-1:],
                             last=points[-1][1], peak=max(v for _, v in points)))
    grid = [(y(p), f"{p}%") for p in (0, 25, 50, 75, 100)]
    ticks = [(x(at), label) for at, label in _ticks(start, end, tz)]
    return Chart(width=WIDTH, height=HEIGHT, series=series, grid=grid, ticks=ticks, plot=(x0, y0, x1, y1))


def _ticks(start: datetime, end: datetime, tz: str, most: int = 8) -> list[tuple[datetime, str]]:
    """Labels on whole local days (or whole hours for short spans), at most `most` of them."""
    local = zone(tz)
    first = start.astimezone(local)
    hours = (end - start).total_seconds() / 3600
    if hours > 48:
        step = timedelta(days=max(1, math.ceil(hours / 24 / most)))
        at, fmt = first.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1), "%m-%d"
    else:
        step = timedelta(hours=max(1, math.ceil(hours / most)))
        at, fmt = first.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1), "%H:%M"
    out = []
    while at <= end:
        out.append((at, at.strftime("%m-%d" if fmt == "%H:%M" and at.hour == 0 else fmt)))
        at += step
    return out
