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


def fill_date(points: Sequence[tuple[date, float]], full: float = 100.0) -> date | None:
    """The first day the fitted line reaches `full`; None when usage is flat or falling."""
    fit = linear_fit([d.toordinal() for d, _ in points], [v for _, v in points])
    if fit is None or fit[0] <= 1e-9:
        return None
    slope, intercept = fit
    x = (full - intercept) / slope
    last = points[-1][0].toordinal()
    day = max(math.ceil(x - 1e-9), last)
    return date.fromordinal(min(day, date.max.toordinal()))


def slope_per_day(points: Sequence[tuple[date, float]]) -> float | None:
    fit = linear_fit([d.toordinal() for d, _ in points], [v for _, v in points])
    return None if fit is None else fit[0]
