"""The figures a service manager reads first: response compliance with every breach, per-host
availability, the month's outages, the recurring faults, and the headline figures of a month (for the
comparison with the month before).

Definitions (also in docs/monthly-report.md):
- 达标率 = met / (met + breached) of the tickets whose response was judged (`tickets.response_sla`).
- A breach is late by the time between its due time and its response (or `now` while unanswered), in
  the units its target counts: working hours, or clock hours for urgent cases outside working time.
- An outage is an "agent offline" ticket or a CRITICAL automatic ticket, from its call time to its
  recovery (or resolution); still open at `now` → up to `now`.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from checks.model import SYSTEM_LABELS_ZH
from collector.reports.data import Table
from collector.rollups.models import ResultRollup
from collector.sla import WorkCalendar, clock_time_between, working_time_between
from collector.sla.policy import SlaPolicy
from collector.tickets.deadlines import deadline, pauses_of, response_clock
from collector.tickets.models import AUTO_SOURCES, Ticket
from collector.tickets.satisfaction import GOOD
from collector.timefmt import month_range
from collector.visits.models import Visit

CHANNEL_ZH = {  # in the report's order: phone, on site, remote, e-mail, automatic
    "phone": "电话", "onsite": "现场", "remote": "远程", "email": "邮件", "auto": "自动"}
CLOCK_ZH = {True: "工作时间", False: "7×24"}
TOP_FAULTS = 10


def pct(n: float, d: float) -> Optional[float]:
    return None if not d else round(100.0 * n / d, 2)


def counts_working(t: Ticket, policy: Optional[SlaPolicy], calendar: WorkCalendar) -> bool:
    """True when the ticket's response target counts working hours, False for clock hours (urgent
    outside working time, or a clock rule of the policy)."""
    if policy is None:
        return True
    try:
        return deadline(t, policy, calendar, now=None)[1].working
    except (ValueError, KeyError):
        return True


def clock_name(t: Ticket, policy: Optional[SlaPolicy], calendar: WorkCalendar) -> str:
    """What the ticket's response deadline counted: 工作时间, 7×24, or 7×24（系统升级窗口） (a 7×24 window)."""
    if policy is None:
        return CLOCK_ZH[True]
    try:
        return response_clock(t, policy, calendar)
    except (ValueError, KeyError):
        return CLOCK_ZH[True]


def handoffs(tickets: list[Ticket], local: Any) -> Table:
    """Cases that were not this system's problem: handed to another department, outside our response SLA."""
    rows = [[t.number, CHANNEL_ZH.get(t.channel, t.channel), t.customer_unit, t.contact_person, local(t.reported_at),
             local(t.handed_at), t.handed_to, t.handoff_note, t.engineer_name]
            for t in tickets if t.status == "handed_off"]
    return Table("handoffs", "已转交 (不属于本系统)", ["服务单编号", "渠道", "客户单位", "联系人", "热线时间",
                 "转交时间", "转交部门", "说明", "工程师"], rows, [18, 6, 16, 9, 16, 16, 14, 30, 9],
                 note="不属于本系统的问题按合同转交其他部门处理; 不计入响应达标率, 也不计为超时")


def response_hours(t: Ticket, working_hours: Optional[float], working: bool, calendar: WorkCalendar,
                   now: datetime) -> Optional[float]:
    """Call time → first response in the units of the ticket's target, pauses excluded
    (`working_hours`: the response already measured in working hours)."""
    if t.acknowledged_at is None:
        return None
    if working:
        return None if working_hours is None else round(working_hours, 2)
    return round(clock_time_between(t.reported_at, t.acknowledged_at, pauses=pauses_of(t), now=now,
                                    calendar=calendar).total_seconds() / 3600, 2)


def compliance(tickets: list[Ticket], *, by_unit: bool) -> Table:
    """达标率 per channel, system and (for the overall report) customer unit; cases handed to another
    department are not ours to answer and are left out (listed in `handoffs`)."""
    tickets = [t for t in tickets if t.status != "handed_off"]
    rows: list[list[Any]] = []
    dims = [("渠道", "channel", CHANNEL_ZH), ("系统", "system", SYSTEM_LABELS_ZH)]
    if by_unit:
        dims.append(("客户单位", "customer_unit", None))
    for label, key, names in dims:
        groups: dict[str, list[Ticket]] = defaultdict(list)
        for t in tickets:
            groups[getattr(t, key) or ""].append(t)
        keys = [k for k in names if k in groups] if names else sorted(groups)
        for k in keys:
            items = groups[k]
            met = sum(1 for t in items if t.response_sla == "met")
            late = sum(1 for t in items if t.response_sla == "breached")
            rows.append([label, (names or {}).get(k, k) or "(未填)", len(items), met, late, pct(met, met + late)])
    met = sum(1 for t in tickets if t.response_sla == "met")
    late = sum(1 for t in tickets if t.response_sla == "breached")
    rows.append(["合计", "", len(tickets), met, late, pct(met, met + late)])
    return Table("compliance", "服务响应达标率", ["维度", "分类", "服务单", "达标", "超时", "达标率(%)"], rows,
                 [10, 16, 8, 8, 8, 10], note="达标率 = 达标 / (达标 + 超时); 未响应且未到期的服务单不计入; "
                                              "已转交其他部门的服务单不计入 (见 已转交)")


def breaches(tickets: list[Ticket], working: dict[int, bool], calendar: WorkCalendar, now: datetime,
             local: Any, clocks: Optional[dict[int, str]] = None) -> Table:
    rows = []
    for t in tickets:
        if t.response_sla != "breached":
            continue
        responded = t.acknowledged_at or now
        late = None
        if t.response_due_at is not None:
            between = working_time_between if working[t.id] else clock_time_between
            late = round(between(t.response_due_at, responded, pauses=pauses_of(t), now=now,
                                 calendar=calendar).total_seconds() / 3600, 2)
        rows.append([t.number, CHANNEL_ZH.get(t.channel, t.channel), t.customer_unit,
                     SYSTEM_LABELS_ZH.get(t.system, t.system), local(t.reported_at), local(t.response_due_at),
                     local(t.acknowledged_at) or "未响应", late,
                     (clocks or {}).get(t.id) or CLOCK_ZH[working[t.id]]])
    return Table("breaches", "响应超时明细", ["服务单编号", "渠道", "客户单位", "系统", "热线时间", "应响应时间",
                 "实际响应时间", "超出(小时)", "计时"], rows, [18, 6, 16, 12, 16, 16, 16, 10, 16],
                 note="超出: 应响应时间到实际响应时间, 按该服务单的计时方式 (工作时间 或 7×24 自然时间), 挂起时间不计; "
                      "7×24（故障处理/系统升级窗口）: 窗口内报修, 窗口结束前按自然小时计, 之后按工作时间")


@dataclass
class HostAgg:
    name: str
    unit: str
    systems: set[str]
    runs: float = 0
    bad_runs: float = 0
    observed: float = 0
    bad: float = 0
    observed_work: float = 0
    bad_work: float = 0


def host_availability(per_check: dict[tuple[int, str], Any], hosts: dict[int, Any]) -> Table:
    """Per host, worst first (hosts without observed time last)."""
    agg: dict[int, HostAgg] = {}
    for (host_id, _check), a in per_check.items():
        h = hosts.get(host_id)
        x = agg.setdefault(host_id, HostAgg(h.name if h else f"#{host_id}", h.unit if h else "", set()))
        x.systems.add(a.system)
        x.runs += a.runs
        x.bad_runs += a.bad_runs
        x.observed += a.observed_seconds
        x.bad += a.bad_seconds
        x.observed_work += a.observed_work_seconds
        x.bad_work += a.bad_work_seconds
    rows = []
    for x in agg.values():
        avail = pct(x.observed - x.bad, x.observed)
        rows.append([x.name, x.unit, "、".join(SYSTEM_LABELS_ZH.get(s, s) for s in sorted(x.systems)),
                     int(x.runs), int(x.bad_runs), avail, pct(x.observed_work - x.bad_work, x.observed_work),
                     round(x.bad / 3600, 2)])
    rows.sort(key=lambda r: (r[5] is None, r[5] if r[5] is not None else 0, r[0]))
    return Table("host_availability", "主机可用率", ["主机", "客户单位", "系统", "巡检次数", "异常次数",
                 "全月可用率(%)", "服务时间可用率(%)", "异常时长(小时)"], rows, [16, 16, 20, 9, 9, 12, 14, 12],
                 note="按全月可用率从低到高排列")


def outage_end(t: Ticket) -> Optional[datetime]:
    return t.recovered_at or t.resolved_at


def outages(tickets: list[Ticket], now: datetime, local: Any) -> tuple[Table, float]:
    """Agent offline and CRITICAL automatic tickets with their durations; (table, total hours)."""
    rows, total = [], 0.0
    for t in tickets:
        if t.source == "agent":
            kind = "巡检代理失联"
        elif t.source in AUTO_SOURCES and t.severity == "critical":
            kind = "严重故障"
        else:
            continue
        end = outage_end(t)
        hours = round(((end or now) - t.reported_at).total_seconds() / 3600, 2)
        total += hours
        rows.append([kind, t.number, t.host, t.customer_unit, t.check, local(t.reported_at),
                     local(end) if end else "未恢复", hours])
    return Table("outages", "本月中断与严重故障", ["类型", "服务单编号", "主机", "客户单位", "检查", "开始",
                 "恢复", "持续(小时)"], rows, [12, 18, 14, 16, 16, 16, 16, 10],
                 note="巡检代理失联与严重 (CRITICAL) 异常服务单, 从发生到恢复"), round(total, 2)


def top_faults(tickets: list[Ticket], per_check: dict[tuple[int, str], Any], hosts: dict[int, Any],
               now: datetime) -> Table:
    """The 10 (host, check) pairs that failed most: fault tickets, bad runs and bad time of the month."""
    faults: dict[tuple[str, str], list[Any]] = {}
    for (host_id, check), a in per_check.items():
        if a.bad_runs <= 0:
            continue
        h = hosts.get(host_id)
        name = h.name if h else f"#{host_id}"
        faults[(name, check)] = [name, h.unit if h else "", SYSTEM_LABELS_ZH.get(a.system, a.system), check,
                                 0, int(a.bad_runs), round(a.bad_seconds / 3600, 2)]
    for t in tickets:
        if t.source not in AUTO_SOURCES:
            continue
        check = t.check or t.source
        row = faults.setdefault((t.host, check), [t.host, t.customer_unit, SYSTEM_LABELS_ZH.get(t.system, t.system),
                                                  check, 0, 0, 0.0])
        row[4] += 1
        if t.source == "agent":  # an offline agent leaves no bad results: its time is the ticket's
            row[6] = round(row[6] + ((outage_end(t) or now) - t.reported_at).total_seconds() / 3600, 2)
    rows = sorted(faults.values(), key=lambda r: (-r[4], -r[6], -r[5], r[0], r[3]))[:TOP_FAULTS]
    return Table("top_faults", "重复故障 TOP 10", ["主机", "客户单位", "系统", "检查", "故障次数(服务单)",
                 "异常巡检次数", "累计异常时长(小时)"], rows, [16, 16, 12, 18, 12, 12, 14],
                 note="按故障次数 (自动服务单)、累计异常时长排列")


def headline(db: Session, *, month: str, unit: str, host_ids: Optional[list[int]], tz: Any) -> dict[str, Any]:
    """Another month's headline figures (HEADLINE_ZH), each defined as in the report's own figures."""
    first, after = month_range(month)
    t0, t1 = datetime.combine(first, time(0), tz), datetime.combine(after, time(0), tz)
    r = ResultRollup
    where = [r.day >= first, r.day < after]
    if host_ids is not None:
        where.append(r.host_id.in_(host_ids) if host_ids else sa.false())
    runs, bad, observed, bad_s = db.execute(sa.select(
        sa.func.sum(r.runs), sa.func.sum(r.warning + r.critical + r.unknown), sa.func.sum(r.observed_seconds),
        sa.func.sum(r.bad_seconds)).where(*where)).one()
    tq = sa.select(Ticket.source, Ticket.response_sla, Ticket.satisfaction).where(
        Ticket.reported_at >= t0, Ticket.reported_at < t1)
    rq = sa.select(sa.func.count()).select_from(Ticket).where(Ticket.resolved_at >= t0, Ticket.resolved_at < t1)
    vq = sa.select(Visit.satisfaction).where(Visit.date >= first, Visit.date < after)
    if unit:
        tq, rq = tq.where(Ticket.customer_unit == unit), rq.where(Ticket.customer_unit == unit)
        vq = vq.where(Visit.unit == unit)
    tickets = db.execute(tq).all()
    visits = list(db.scalars(vq))
    met = sum(1 for t in tickets if t.response_sla == "met")
    judged = sum(1 for t in tickets if t.response_sla in ("met", "breached"))
    ratings = [t.satisfaction for t in tickets if t.satisfaction] + [v for v in visits if v]
    return {"runs": int(runs or 0), "bad_runs": int(bad or 0),
            "availability": pct((observed or 0) - (bad_s or 0), observed or 0),
            "anomalies": sum(1 for t in tickets if t.source in AUTO_SOURCES), "tickets": len(tickets),
            "tickets_resolved": db.scalar(rq) or 0, "sla_met_pct": pct(met, judged),
            "satisfaction_pct": pct(sum(1 for s in ratings if s in GOOD), len(ratings)),
            "visits": len(visits)}


HEADLINE_ZH = (("runs", "巡检次数"), ("bad_runs", "异常检查次数"), ("availability", "整体可用率(%)"),
               ("anomalies", "发现异常(自动服务单)"), ("tickets", "受理服务单"), ("tickets_resolved", "解决服务单"),
               ("sla_met_pct", "响应达标率(%)"), ("satisfaction_pct", "满意率(%)"), ("visits", "用户回访次数"))


def comparison(this: dict[str, Any], last: dict[str, Any]) -> Table:
    rows = []
    for key, label in HEADLINE_ZH:
        a, b = this.get(key), last.get(key)
        rows.append([label, a, b, "—" if a is None or b is None else _signed(a - b)])
    return Table("comparison", "主要指标与上月对比", ["指标", "本月", "上月", "变化"], rows, [22, 12, 12, 10])


def _signed(v: float) -> str:
    text = f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"
    return f"+{text}" if v > 0 else text
