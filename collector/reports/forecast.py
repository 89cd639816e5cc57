"""When does a disk fill: least-squares line through the daily figures (as Prometheus predict_linear
and Zabbix timeleft do), solved for 100 %."""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float] | None:
    """(slope, intercept) of the least-squares line, None with fewer than 2 distinct x."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


def forecast(points: Sequence[tuple[date, float]], full: float = 100.0) -> tuple[float | None, date | None]:
    """(growth per day, first day the fitted line reaches `full`); the date is None when usage is
    flat or falling, both None with fewer than two days."""
    fit = linear_fit([d.toordinal() for d, _ in points], [v for _, v in points])
    if fit is None:
        return None, None
    slope, intercept = fit
    if slope <= 1e-9:
        return slope, None
    x = (full - intercept) / slope
    day = max(math.ceil(x - 1e-9), points[-1][0].toordinal())
    return slope, date.fromordinal(min(day, date.max.toordinal()))
