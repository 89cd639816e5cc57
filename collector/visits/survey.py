"""The customer satisfaction survey (客户满意度调查表) asked on a return visit, and the monthly count of
visits per unit (用户回访统计表)."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from collector.tickets.satisfaction import RATINGS, Rate, rate_of
from collector.visits.models import Visit

QUESTIONS = (
    "对热线接听和响应速度是否满意",
    "对工程师的服务态度是否满意",
    "对问题处理的及时性是否满意",
    "对问题处理的结果是否满意",
    "对系统目前的运行情况是否满意",
)
NOT_ANSWERED = "未回答"
TARGET = 90.0  # percent, as the contract says


@dataclass
class UnitVisits:
    unit: str
    visits: int
    counts: Counter
    rate: Rate

    @property
    def met(self) -> bool:
        return self.rate.percent is not None and self.rate.percent >= TARGET


def per_unit(visits: Iterable[Visit]) -> tuple[list[UnitVisits], UnitVisits]:
    """One line per unit (by name) and the total line."""
    by_unit: dict[str, list[Visit]] = {}
    everything: list[Visit] = []
    for v in visits:
        by_unit.setdefault(v.unit or "未填单位", []).append(v)
        everything.append(v)
    lines = [_line(u, vs) for u, vs in sorted(by_unit.items())]
    return lines, _line("合计", everything)


def _line(unit: str, visits: list[Visit]) -> UnitVisits:
    ratings = [v.satisfaction for v in visits]
    return UnitVisits(unit=unit, visits=len(visits), counts=Counter(r for r in ratings if r in RATINGS),
                      rate=rate_of(ratings))
