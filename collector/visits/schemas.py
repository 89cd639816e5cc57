"""API shapes of return visits (用户回访)."""
from __future__ import annotations

import datetime as dt
from typing import Literal, Optional

from pydantic import BaseModel, Field

from collector.timefmt import FromRow, LocalTime


class Answer(BaseModel):
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field("", max_length=2000)


class VisitIn(BaseModel):
    """A return visit (用户回访)."""

    date: dt.date
    unit: str = Field("", max_length=128, description="客户单位")
    customer_name: str = Field("", max_length=64, description="客户姓名")
    method: Literal["电话", "现场", "邮件", "问卷"]
    answers: list[Answer] = Field(default_factory=list, max_length=50)
    satisfaction: Literal["满意", "基本满意", "不满意"]
    comment: str = Field("", max_length=4000)
    ticket_id: Optional[int] = None


class VisitOut(FromRow):
    id: int
    date: dt.date
    unit: str
    customer_name: str
    method: str
    answers: list[dict[str, str]]
    satisfaction: str
    comment: str
    ticket_id: Optional[int]
    engineer_name: str
    engineer_number: str
    created_by: str
    created_at: LocalTime
