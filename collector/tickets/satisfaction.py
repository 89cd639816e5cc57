"""Customer satisfaction (客户满意度): the ratings, "未评价", and the rate with the number it comes from.

A ticket is rated only by a choice someone made: nothing is assumed. A manual case is closed with one of
RATINGS or, explicitly, UNRATED; an automatic ticket (no customer involved) is UNRATED unless rated. Only
rated tickets (and return visits) count towards the rate."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

from collector.tickets.models import AUTO_SOURCES, Ticket

RATINGS = ("满意", "基本满意", "不满意")
GOOD = ("满意", "基本满意")
UNRATED = "未评价"
CLOSE_CHOICES = (*RATINGS, UNRATED)


def is_automatic(ticket: Ticket) -> bool:
    return ticket.source in AUTO_SOURCES


def label(value: Optional[str]) -> str:
    return value if value in RATINGS else UNRATED


@dataclass(frozen=True)
class Rate:
    good: int  # 满意 + 基本满意
    rated: int

    @property
    def percent(self) -> Optional[float]:
        return None if not self.rated else round(100.0 * self.good / self.rated, 2)

    @property
    def basis(self) -> str:
        return f"基于 {self.rated} 个评价" if self.rated else "尚无评价"

    @property
    def text(self) -> str:
        """'满意度 92% (基于 25 个评价)'; '满意度 - (尚无评价)' without any rating."""
        if not self.rated:
            return f"满意度 - ({self.basis})"
        return f"满意度 {100.0 * self.good / self.rated:.0f}% ({self.basis})"


def rate_of(ratings: Iterable[Optional[str]]) -> Rate:
    rated = [r for r in ratings if r in RATINGS]
    return Rate(good=sum(1 for r in rated if r in GOOD), rated=len(rated))
