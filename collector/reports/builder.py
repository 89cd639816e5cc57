"""Gathers one month of one customer unit (or all) from rollups, tickets and visits into ReportData.

Reads only aggregates: SQL sums over result_rollups per system and per check, the disk rollups for
space usage, and the month's tickets and visits. Definitions (also in docs/monthly-report.md):
- 可用率 (availability) = 1 − bad time / observed time of every check of the system (rollups.service);
  服务时间可用率 the same within contracted service hours (SLA calendar working time).
- 发现异常 = tickets opened automatically (source check/agent/alertmanager) in the month.
- 满意率 = (满意 + 基本满意) / rated; target 90 %.
- Staff rating: see `rate_engineer`.
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Session

from checks.model import SYSTEM_LABELS_ZH, SYSTEMS
from collector.config import ReportSettings
from collector.hosts.models import Host
from collector.reports import manager
from collector.reports.data import Cover, DiskSeries, ReportData, Table
from collector.reports.forecast import forecast
from collector.reports.manager import CHANNEL_ZH, pct
from collector.reports.narrative import overview
from collector.reports.period import previous_month
from collector.rollups.models import ResultRollup
from collector.sla import WorkCalendar, elapsed_working
from collector.sla.policy import SlaPolicy
from collector.tickets.deadlines import pauses_of
from collector.tickets.models import AUTO_SOURCES, Ticket
from collector.tickets.satisfaction import RATINGS
from collector.tickets.schemas import SEVERITY_LABELS, STATUS_LABELS
from collector.timefmt import month_range
from collector.visits import service as visits

STATUS_ZH = STATUS_LABELS  # one name per status, as the console shows it
TARGET = 0.90
DISK_CHART_SERIES = 8
# Sections in reading order: the headline figures and what a service manager looks at first, then the detail.
ORDER = ("summary", "comparison", "compliance", "breaches", "handoffs", "systems", "host_availability", "outages",
         "top_faults", "checks", "disks", "ticket_stats", "tickets", "staff", "satisfaction", "visits")


def rate_engineer(satisfied: int, basic: int, unsatisfied: int, *, sla_all_met: bool) -> str:
    """好 / 较好 / 一般 from the customers' ratings of the engineer's tickets this month:
    满意 ≥ 90 % of rated → 好; 满意 + 基本满意 ≥ 75 % → 较好; else 一般.
    Without any rating: 较好 if every response met the SLA, else 一般 (好 needs customers' word)."""
    rated = satisfied + basic + unsatisfied
    if rated == 0:
        return "较好" if sla_all_met else "一般"
    if satisfied / rated >= 0.90:
        return "好"
    if (satisfied + basic) / rated >= 0.75:
        return "较好"
    return "一般"


def hours(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def build(*, db: Session, month: str, unit: str, calendar: WorkCalendar, now: datetime,
          policy: Optional[SlaPolicy] = None, settings: Optional[ReportSettings] = None) -> ReportData:
    """`policy` tells which tickets' response counts clock hours (urgent outside working time);
    without it every response is in working hours. `settings` names provider and contract."""
    first, after = month_range(month)
    tz = calendar.tz
    t0, t1 = datetime.combine(first, time(0), tz), datetime.combine(after, time(0), tz)
    host_q = sa.select(Host.id, Host.name, Host.unit)
    if unit:
        host_q = host_q.where(Host.unit == unit)
    hosts = {r.id: r for r in db.execute(host_q)}
    r = ResultRollup
    in_month = [r.day >= first, r.day < after]
    if unit:
        in_month.append(r.host_id.in_(list(hosts)) if hosts else sa.false())
    per_check = _per_host_check(db, in_month)
    sys_rows = _by_system(per_check)
    n_hosts = len({h for h, _c in per_check})

    tq = sa.select(Ticket).where(Ticket.reported_at >= t0, Ticket.reported_at < t1).order_by(Ticket.reported_at,
                                                                                              Ticket.id)
    resolved_q = sa.select(sa.func.count()).select_from(Ticket).where(Ticket.resolved_at >= t0, Ticket.resolved_at < t1)
    if unit:
        tq = tq.where(Ticket.customer_unit == unit)
        resolved_q = resolved_q.where(Ticket.customer_unit == unit)
    tickets = list(db.scalars(tq))
    resolved_in_month = db.scalar(resolved_q) or 0
    month_visits = visits.in_range(db=db, start=first, end=after, unit=unit or None)

    tables: list[Table] = []
    figures: dict[str, Any] = {}
    working = {t.id: manager.counts_working(t, policy, calendar) for t in tickets}
    clocks = {t.id: manager.clock_name(t, policy, calendar) for t in tickets}
    local = lambda dt: _local(dt, tz)  # noqa: E731
    elapsed = {t.id: elapsed_working(calendar, reported_at=t.reported_at, responded_at=t.acknowledged_at,
                                     resolved_at=t.resolved_at, pauses=pauses_of(t), now=now) for t in tickets}

    # -- operation of each system ------------------------------------------------------------------
    agent_tickets = [t for t in tickets if t.source == "agent"]
    sys_table = []
    for s in SYSTEMS:
        row = sys_rows.get(s)
        avail = pct(row.observed_seconds - row.bad_seconds, row.observed_seconds) if row else None
        avail_w = pct(row.observed_work_seconds - row.bad_work_seconds, row.observed_work_seconds) if row else None
        figures.setdefault("availability", {})[s] = avail
        figures.setdefault("availability_work", {})[s] = avail_w
        sys_table.append([SYSTEM_LABELS_ZH[s], row.hosts if row else 0, int(row.runs or 0) if row else 0,
                          int(row.bad_runs or 0) if row else 0, avail, avail_w,
                          int(row.critical_events) if row else 0, int(row.warning_events) if row else 0,
                          sum(1 for t in tickets if t.system == s and t.source in AUTO_SOURCES),
                          sum(1 for t in agent_tickets if t.system == s)])
    tables.append(Table("systems", "系统运行情况", ["系统", "主机数", "巡检次数", "异常次数", "全月可用率(%)",
                        "服务时间可用率(%)", "严重日志", "警告日志", "异常服务单", "代理失联"], sys_table,
                        [14, 8, 10, 9, 13, 15, 9, 9, 10, 9],
                        note="可用率 = 检查正常时间 / 有数据的检查时间; 服务时间 = 合同约定的工作时间 (SLA 日历)"))

    check_rows = _by_check(per_check)
    by_check = Counter(t.check for t in tickets if t.source == "check")
    tables.append(Table("checks", "异常检查统计", ["系统", "检查", "类型", "主机数", "巡检次数", "警告", "严重",
                                               "未知", "服务单"],
                        [[SYSTEM_LABELS_ZH.get(s, s), c, ty, h, int(n or 0), int(w or 0), int(cr or 0), int(u or 0),
                          by_check.get(c, 0)] for s, c, ty, h, n, w, cr, u in check_rows],
                        [14, 22, 10, 8, 10, 8, 8, 8, 8]))
    outage_table, outage_hours = manager.outages(tickets, now, local)
    tables.append(outage_table)

    # -- space usage -----------------------------------------------------------------------------
    disk_rows = db.execute(sa.select(r.host_id, r.check, r.day, r.disk).where(r.type == "disk", *in_month)
                           .order_by(r.host_id, r.check, r.day))
    mounts: dict[tuple[int, str], list[tuple[date, dict[str, float]]]] = defaultdict(list)
    for host_id, _check, day, disk in disk_rows:
        for mount, d in (disk or {}).items():
            mounts[(host_id, mount)].append((day, d))
    disk_table, series = [], []
    for (host_id, mount), days in sorted(mounts.items(), key=lambda kv: (_host_name(hosts, kv[0][0]), kv[0][1])):
        points = [(day, d["used_percent_last"]) for day, d in days if "used_percent_last" in d]
        if not points:
            continue
        start_pct = days[0][1].get("used_percent_first", points[0][1])
        end_pct = points[-1][1]
        size = days[-1][1].get("size_bytes_last")
        free = days[-1][1].get("free_bytes_last")
        start_free = days[0][1].get("free_bytes_first")
        growth_bytes = (start_free - free) if start_free is not None and free is not None else None
        slope, full = forecast(points)
        label = f"{_host_name(hosts, host_id)}:{mount}"
        series.append(DiskSeries(label, points))
        disk_table.append([_host_name(hosts, host_id), hosts[host_id].unit if host_id in hosts else "", mount,
                           _gib(size), round(start_pct, 2), round(end_pct, 2), round(end_pct - start_pct, 2),
                           _gib(growth_bytes), _gib(free), None if slope is None else round(slope, 3),
                           full.isoformat() if full else "不会写满"])
    series.sort(key=lambda s: -s.points[-1][1])
    tables.append(Table("disks", "空间使用情况", ["主机", "客户单位", "挂载点", "容量(GiB)", "月初使用率(%)",
                        "月末使用率(%)", "增长(百分点)", "增长(GiB)", "月末剩余(GiB)", "日均增长(百分点)",
                        "预计写满日期"], disk_table, [16, 16, 16, 10, 12, 12, 11, 10, 12, 13, 13],
                        note="预计写满日期: 按每日使用率做最小二乘线性拟合 (同 Prometheus predict_linear / "
                             "Zabbix timeleft) 推算到 100% 的日期"))

    # -- tickets ---------------------------------------------------------------------------------
    responded = [t for t in tickets if t.response_sla in ("met", "breached")]
    met = sum(1 for t in responded if t.response_sla == "met")
    resp = [e.response_hours for e in elapsed.values() if e.response_hours is not None]
    reso = [e.resolution_hours for e in elapsed.values() if e.resolution_hours is not None]
    figures.update({
        "tickets": len(tickets), "tickets_resolved": resolved_in_month, "sla_met_pct": pct(met, len(responded)),
        "response_median_h": hours(statistics.median(resp)) if resp else None,
        "response_worst_h": hours(max(resp)) if resp else None,
        "resolution_median_h": hours(statistics.median(reso)) if reso else None,
        "resolution_worst_h": hours(max(reso)) if reso else None,
        "anomalies": sum(1 for t in tickets if t.source in AUTO_SOURCES),
    })
    stats: list[list[Any]] = []
    for label, key, names in (("渠道", "channel", CHANNEL_ZH), ("系统", "system", SYSTEM_LABELS_ZH),
                              ("严重程度", "severity", SEVERITY_LABELS)):
        counts = Counter(getattr(t, key) for t in tickets)
        for k, zh in names.items():
            stats.append([label, zh, counts.get(k, 0)])
    stats += [["响应", "响应达标率(%)", figures["sla_met_pct"]], ["响应", "达标/超时", f"{met}/{len(responded) - met}"],
              ["响应", "响应时长中位数(工作小时)", figures["response_median_h"]],
              ["响应", "最长响应时长(工作小时)", figures["response_worst_h"]],
              ["解决", "解决时长中位数(工作小时)", figures["resolution_median_h"]],
              ["解决", "最长解决时长(工作小时)", figures["resolution_worst_h"]]]
    tables.append(Table("ticket_stats", "服务单统计", ["分类", "项目", "数值"], stats, [12, 28, 14]))
    tables.append(Table("tickets", "系统服务单", [
        "编号", "工程师姓名", "工程师编号", "客户姓名", "客户单位", "客户房间号", "热线时间", "解决问题时间", "渠道",
        "问题描述", "解决描述", "系统", "主机", "严重程度", "状态", "响应(小时)", "响应计时", "响应结果",
        "解决(工作小时)", "满意度"], [[
            t.number, t.engineer_name, t.engineer_number, t.customer_name, t.customer_unit, t.room,
            _local(t.reported_at, tz), _local(t.resolved_at, tz), CHANNEL_ZH.get(t.channel, t.channel),
            t.description, t.resolution, SYSTEM_LABELS_ZH.get(t.system, t.system), t.host,
            SEVERITY_LABELS.get(t.severity, t.severity), STATUS_ZH.get(t.status, t.status),
            manager.response_hours(t, elapsed[t.id].response_hours, working[t.id], calendar, now),
            clocks[t.id],
            {"met": "达标", "breached": "超时"}.get(t.response_sla or "", ""),
            hours(elapsed[t.id].resolution_hours), t.satisfaction or ""]
            for t in tickets],
        [20, 10, 9, 9, 14, 8, 16, 16, 7, 29, 29, 12, 12, 8, 8, 9, 16, 7, 9, 9],
        note="响应时长按该服务单的响应时限计时: 工作时间 (工作小时), 或 7×24 (紧急且非工作时间报修, 自然小时), "
             "或 7×24（故障处理/系统升级窗口）(窗口内报修: 窗口结束前自然小时, 之后工作小时); "
             "解决时长为工作小时"))

    # -- staff -----------------------------------------------------------------------------------
    staff: dict[tuple[str, str], list[Ticket]] = defaultdict(list)
    for t in tickets:
        if t.engineer_name:
            staff[(t.engineer_name, t.engineer_number)].append(t)
    staff_rows = []
    for (name, number), items in sorted(staff.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        c = Counter(t.satisfaction for t in items if t.satisfaction)
        rated = sum(c.values())
        all_met = all(t.response_sla != "breached" for t in items)
        rating = rate_engineer(c["满意"], c["基本满意"], c["不满意"], sla_all_met=all_met)
        staff_rows.append([name, number, len(items), sum(1 for t in items if t.resolved_at is not None),
                           c["满意"], c["基本满意"], c["不满意"],
                           pct(c["满意"] + c["基本满意"], rated), rating])
    figures["staff"] = {row[0]: row[-1] for row in staff_rows}
    tables.append(Table("staff", "人员情况统计表", ["姓名", "编号", "服务次数", "已解决", "满意", "基本满意",
                                                "不满意", "满意率(%)", "评价"], staff_rows,
                        [12, 10, 10, 9, 8, 10, 8, 11, 8],
                        note="评价: 满意 ≥ 90% → 好; 满意+基本满意 ≥ 75% → 较好; 其余 → 一般; "
                             "本月无客户评价时: 响应全部达标 → 较好, 否则 一般"))

    # -- satisfaction and visits -----------------------------------------------------------------
    tc = Counter(t.satisfaction for t in tickets if t.satisfaction in RATINGS)
    vc = Counter(v.satisfaction for v in month_visits)
    sat_rows = []
    for label, c in (("服务单评价", tc), ("用户回访", vc), ("合计", tc + vc)):
        rated = sum(c[s] for s in RATINGS)
        rate = pct(c["满意"] + c["基本满意"], rated)
        sat_rows.append([label, c["满意"], c["基本满意"], c["不满意"], rated, rate, 90,
                         "" if rate is None else ("达标" if rate >= TARGET * 100 else "未达标")])
    figures["satisfaction_tickets_pct"] = sat_rows[0][5]
    figures["satisfaction_visits_pct"] = sat_rows[1][5]
    figures["satisfaction_pct"] = sat_rows[2][5]
    figures["satisfaction_rated"] = sat_rows[2][4]
    tables.append(Table("satisfaction", "满意度", ["来源", "满意", "基本满意", "不满意", "评价数", "满意率(%)",
                                                 "目标(%)", "结论"], sat_rows, [12, 8, 10, 8, 8, 11, 8, 8],
                        note="满意率 = (满意 + 基本满意) / 评价数, 目标 90%"))
    numbers = {t.id: t.number for t in tickets}
    missing = [v.ticket_id for v in month_visits if v.ticket_id and v.ticket_id not in numbers]
    if missing:
        numbers.update(dict(db.execute(sa.select(Ticket.id, Ticket.number).where(Ticket.id.in_(missing))).all()))
    tables.append(Table("visits", "用户回访统计表", ["回访日期", "客户单位", "客户姓名", "回访方式", "回访内容",
                                                 "满意度", "客户意见", "关联服务单", "回访人"],
                        [[v.date.isoformat(), v.unit, v.customer_name, v.method,
                          "\n".join(f"{a.get('question', '')}: {a.get('answer', '')}" for a in v.answers or []),
                          v.satisfaction, v.comment, numbers.get(v.ticket_id, "") if v.ticket_id else "",
                          v.engineer_name] for v in month_visits],
                        [11, 16, 9, 8, 40, 9, 24, 16, 9]))

    # -- summary (first) -------------------------------------------------------------------------
    n_systems = sum(1 for s in SYSTEMS if s in sys_rows)
    runs = sum(int(row.runs or 0) for row in sys_rows.values())
    bad_runs = sum(int(row.bad_runs or 0) for row in sys_rows.values())
    figures.update({"hosts": n_hosts, "systems": n_systems, "runs": runs, "bad_runs": bad_runs})
    y, m = month.split("-")
    summary = [["报告月份", f"{y}年{int(m)}月"], ["客户单位", unit or "全部单位"],
               ["巡检主机数", n_hosts], ["巡检系统数", n_systems], ["巡检次数", runs], ["异常检查次数", bad_runs],
               ["发现异常(自动服务单)", figures["anomalies"]], ["受理服务单", len(tickets)],
               ["解决服务单", resolved_in_month], ["响应达标率(%)", figures["sla_met_pct"]],
               ["满意率(%) (目标 90%)", figures["satisfaction_pct"]],
               ["满意率依据(评价数, 未评价不计)", figures["satisfaction_rated"]], ["用户回访次数", len(month_visits)]]
    tables.insert(0, Table("summary", "概况", ["项目", "数值"], summary, [24, 30]))

    # -- what a service manager reads first, and the comparison with last month ---------------------
    host_ids = list(hosts) if unit else None
    last = manager.headline(db, month=previous_month(first), unit=unit, host_ids=host_ids, tz=tz)
    observed = sum(a.observed_seconds for a in sys_rows.values())
    figures["availability_all"] = pct(observed - sum(a.bad_seconds for a in sys_rows.values()), observed)
    observed_w = sum(a.observed_work_seconds for a in sys_rows.values())
    figures["availability_all_work"] = pct(observed_w - sum(a.bad_work_seconds for a in sys_rows.values()),
                                           observed_w)
    figures["previous"] = last
    figures["visits"] = len(month_visits)
    figures["tickets_open"] = sum(1 for t in tickets if t.resolved_at is None and t.status != "handed_off")
    figures["tickets_handed_off"] = sum(1 for t in tickets if t.status == "handed_off")
    figures["system_names"] = [SYSTEM_LABELS_ZH[s] for s in SYSTEMS if s in sys_rows]
    breach_table = manager.breaches(tickets, working, calendar, now, local, clocks)
    hosts_table = manager.host_availability(per_check, hosts)
    this = {**{k: figures.get(k) for k, _ in manager.HEADLINE_ZH},
            "availability": figures["availability_all"], "visits": len(month_visits)}
    comparison = manager.comparison(this, last)
    handoffs = manager.handoffs(tickets, local)
    if handoffs.rows:  # a section only in a month that had some
        tables.append(handoffs)
    tables += [comparison, manager.compliance(tickets, by_unit=not unit), breach_table, hosts_table,
               manager.top_faults(tickets, per_check, hosts, now)]
    tables.sort(key=lambda t: ORDER.index(t.key))
    last_day = after - timedelta(days=1)
    y_m = f"{y}年{int(m)}月"
    settings = settings or ReportSettings()
    cover = Cover(unit=unit or "全部单位", month_zh=y_m, period=f"{first.isoformat()} 至 {last_day.isoformat()}",
                  provider=settings.provider, contract_number=settings.contract_number,
                  issued=now.astimezone(tz).date().isoformat())
    n_agent = sum(1 for row in outage_table.rows if row[0] == "巡检代理失联")
    text = overview(figures, who=unit or "各客户单位", month_end=last_day,
                    breaches=[row[0] for row in breach_table.rows],
                    disks=[(f"{row[0]}:{row[2]}", row[5], row[10]) for row in disk_table],
                    weak_hosts=[(row[0], row[5]) for row in hosts_table.rows[:20]],
                    outages=(n_agent, len(outage_table.rows) - n_agent, outage_hours),
                    comparison=comparison.rows)
    return ReportData(
        month=month, unit=unit, title=f"系统服务月报 {y_m}" + (f" — {unit}" if unit else ""),
        generated_at=now.astimezone(tz).strftime("%Y-%m-%d %H:%M"), figures=figures, tables=tables,
        cover=cover, overview=text, month_days=(first, last_day),
        disk_chart=series[:DISK_CHART_SERIES],
        availability_chart=[(SYSTEM_LABELS_ZH[s], figures["availability"][s], figures["availability_work"][s])
                            for s in SYSTEMS])


SUMS = ("runs", "warning", "critical", "unknown", "observed_seconds", "bad_seconds", "observed_work_seconds",
        "bad_work_seconds", "critical_events", "warning_events")


@dataclass
class Agg:
    system: str = ""
    type: str = ""
    hosts: int = 0
    runs: float = 0
    warning: float = 0
    critical: float = 0
    unknown: float = 0
    observed_seconds: float = 0
    bad_seconds: float = 0
    observed_work_seconds: float = 0
    bad_work_seconds: float = 0
    critical_events: float = 0
    warning_events: float = 0

    @property
    def bad_runs(self) -> float:
        return self.warning + self.critical + self.unknown

    def add(self, other: Agg) -> None:
        self.hosts += 1
        for k in SUMS:
            setattr(self, k, getattr(self, k) + getattr(other, k))


def _per_host_check(db: Session, where: list[Any]) -> dict[tuple[int, str], Agg]:
    """One pass over the month's rollups: sums per (host, check); everything else adds these up."""
    r = ResultRollup
    q = sa.select(r.host_id, r.check, sa.func.max(r.system), sa.func.max(r.type),
                  *(sa.func.sum(getattr(r, k)) for k in SUMS)).where(*where).group_by(r.host_id, r.check)
    out = {}
    for host_id, check, system, typ, *sums in db.execute(q):
        out[(host_id, check)] = Agg(system, typ or "", 1, *(v or 0 for v in sums))
    return out


def _by_system(per_check: dict[tuple[int, str], Agg]) -> dict[str, Agg]:
    out: dict[str, Agg] = {}
    hosts: dict[str, set[int]] = defaultdict(set)
    for (host_id, _check), a in per_check.items():
        out.setdefault(a.system, Agg(a.system)).add(a)
        hosts[a.system].add(host_id)
    for system, agg in out.items():
        agg.hosts = len(hosts[system])
    return out


def _by_check(per_check: dict[tuple[int, str], Agg]) -> list[tuple[Any, ...]]:
    """(system, check, type, hosts, runs, warning, critical, unknown) of checks with bad runs."""
    out: dict[tuple[str, str], Agg] = {}
    for (_host, check), a in per_check.items():
        out.setdefault((a.system, check), Agg(a.system, a.type)).add(a)
    rows = [(s, c, a.type, a.hosts, a.runs, a.warning, a.critical, a.unknown) for (s, c), a in out.items()
            if a.bad_runs > 0]
    return sorted(rows, key=lambda x: (-x[6], -x[5], x[1]))


def _host_name(hosts: dict[int, Any], host_id: int) -> str:
    h = hosts.get(host_id)
    return h.name if h is not None else f"#{host_id}"


def _local(dt: datetime | None, tz: Any) -> str:
    return "" if dt is None else dt.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _gib(v: float | None) -> float | None:
    return None if v is None else round(v / 2**30, 2)
