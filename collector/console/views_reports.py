"""月报: list, generate, download, and the month's 系统服务单 as one PDF — through collector.reports."""
from __future__ import annotations

import logging
import re
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from collector.console.views_dashboard import this_month_rate
from collector.console.web import ConsoleError, EngineerForm, PageUser, redirect, render, settings_of
from collector.db import utcnow
from collector.deps import SessionDep
from collector.reports import mailing, service
from collector.reports.failures import open_failures
from collector.reports.models import Report, file_name
from collector.runtime import runtime
from collector.timefmt import zone

router = APIRouter(prefix="/console/reports", include_in_schema=False)
log = logging.getLogger("xunjian.console")
FORMATS = (("html", "网页"), ("xlsx", "Excel"), ("pdf", "PDF"), ("docx", "Word"))
MAIL_STATES = {"pending": "待发送", "sent": "已发送", "dead": "发送失败", "folded": "已汇总"}
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _page(request: Request, db: Session, error: str = "", status: int = 200) -> Response:
    rows = list(db.scalars(sa.select(Report).order_by(Report.month.desc(), Report.unit, Report.format).limit(300)))
    month = utcnow().astimezone(zone(settings_of(request).timezone)).strftime("%Y-%m")
    return render(request, "reports.html", status=status, rows=rows, units=service.units(db=db),
                  month=month, formats=FORMATS, error=error, nav="reports", failures=open_failures(db=db),
                  mails=mailing.recent(db=db), mail_states=MAIL_STATES,
                  satisfaction=this_month_rate(db, settings_of(request).timezone, utcnow()))


@router.get("")
def reports(request: Request, db: SessionDep, me: PageUser) -> Response:
    return _page(request, db)


@router.post("")
def generate(request: Request, db: SessionDep, form: EngineerForm) -> Response:
    month, unit, fmt = form.get("month"), form.get("unit")[:128], form.get("format")
    if not MONTH.match(month) or fmt not in dict(FORMATS):
        return _page(request, db, "请选择月份 (YYYY-MM) 和格式", 422)
    try:
        report, _ = service.generate(db=db, month=month, unit=unit, fmt=fmt, rt=runtime(settings_of(request), db),
                                     now=utcnow(), actor=form.active.user.name, replace=True)
    except ValueError as e:
        return _page(request, db, str(e), 422)
    except Exception as e:  # shown with its reason instead of a bare 500 page
        log.exception("report %s %s %s failed", month, unit or "overall", fmt)
        db.rollback()
        return _page(request, db, f"生成失败: {type(e).__name__}: {e}", 500)
    if report is None:
        return _page(request, db, "报告正在由其他进程生成, 请稍后再试", 409)
    db.commit()
    return redirect("/console/reports")


@router.get("/{report_id}/download")
def download(report_id: int, db: SessionDep, me: PageUser) -> Response:
    r = db.get(Report, report_id)
    if r is None:
        raise ConsoleError(404, f"报告 {report_id} 不存在")
    name = file_name(r.month, r.unit, r.format)
    return Response(r.content, media_type=service.MEDIA_TYPES.get(r.format, "application/octet-stream"),
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/forms")
def forms_pdf(request: Request, db: SessionDep, me: PageUser, month: str = "", unit: str = "") -> Response:
    """Every 系统服务单 of the month (by 热线时间), one form a page: the handover package."""
    if not MONTH.match(month):
        raise ConsoleError(422, "请选择月份 (YYYY-MM)")
    from collector.reports import forms

    unit = unit[:128]
    tz = runtime(settings_of(request)).calendar.tz
    tickets = forms.tickets_of(db, month=month, unit=unit, tz=tz)
    y, m = month.split("-")
    content = forms.render(tickets, tz=tz, title=f"系统服务单 {y}年{int(m)}月 {unit or '全部单位'}")
    name = f"系统服务单-{month}{'-' + unit if unit else ''}.pdf"
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
