"""本月概述: a few plain sentences written from the month's figures, in the order a customer asks
(what was inspected, what was found and done, how fast, how satisfied, what to watch)."""
from __future__ import annotations

from datetime import date
from typing import Any

RISK_DAYS = 30  # a disk forecast to fill within this many days of the month's end is a risk
AVAILABILITY_WATCH = 99.0  # hosts below this availability are named


def _n(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _pct(v: Any) -> str:
    """A share in per cent, or "—" (no unit) where there is nothing to measure."""
    return "—" if v is None else f"{_n(v)}%"


MONTH_ON_MONTH = ("整体可用率(%)", "发现异常(自动服务单)", "受理服务单", "响应达标率(%)", "满意率(%)")


def overview(f: dict[str, Any], *, who: str, month_end: date, breaches: list[str], disks: list[tuple[str, float, str]],
             weak_hosts: list[tuple[str, float]], outages: tuple[int, int, float],
             comparison: list[list[Any]] = ()) -> list[str]:
    """`disks`: (host:mount, used % at the end, forecast fill date ISO) of every mount; `weak_hosts`:
    (host, availability) worst first; `outages`: (agent offline, critical faults, total hours);
    `comparison`: rows (label, this month, last month, change) of the comparison table."""
    out = []
    systems = "、".join(f["system_names"]) if f.get("system_names") else ""
    if f["runs"]:
        out.append(f"本月对{who}的 {f['hosts']} 台主机、{f['systems']} 个系统（{systems}）进行自动巡检 "
                   f"{_n(f['runs'])} 次，其中结果异常 {_n(f['bad_runs'])} 次；整体可用率 "
                   f"{_pct(f.get('availability_all'))}，服务时间可用率 {_pct(f.get('availability_all_work'))}。")
    else:
        out.append(f"本月没有{who}的巡检数据。")
    agent_off, critical, hours = outages
    found = (f"巡检发现异常 {f['anomalies']} 项并自动生成服务单。" if f["anomalies"]
             else "巡检未发现需生成服务单的异常。")
    if agent_off or critical:
        found += f"其中巡检代理失联 {agent_off} 次、严重故障 {critical} 次，累计 {_n(hours)} 小时。"
    open_n = f.get("tickets_open", 0)
    found += (f"本月共受理服务单 {f['tickets']} 张，本月解决 {f['tickets_resolved']} 张"
              + (f"，尚有 {open_n} 张未解决。" if open_n else "。"))
    out.append(found)
    if f["sla_met_pct"] is None:
        out.append("本月没有需判定响应时限的服务单。")
    else:
        text = f"响应达标率 {_pct(f['sla_met_pct'])}"
        if breaches:
            shown = "、".join(breaches[:5]) + (f" 等 {len(breaches)} 张" if len(breaches) > 5 else "")
            text += f"，超时 {len(breaches)} 张（{shown}），明细见“响应超时明细”。"
        else:
            text += "，全部按时响应。"
        out.append(text)
    sat = f.get("satisfaction_pct")
    if sat is None:
        out.append(f"本月没有客户评价；用户回访 {f.get('visits', 0)} 次。")
    else:
        verdict = "达到" if sat >= 90 else "未达到"
        out.append(f"客户满意率 {_pct(sat)}，{verdict} 90% 的目标；用户回访 {f.get('visits', 0)} 次。")
    changes = []
    for label, _this, _last, change in comparison:
        if label in MONTH_ON_MONTH and change != "—":
            unit = " 个百分点" if label.endswith("(%)") else ""
            changes.append(f"{label.removesuffix('(%)')} {change}{unit}")
    last = {label: previous for label, _this, previous, _change in comparison}
    if comparison and not last.get("巡检次数") and not last.get("受理服务单"):
        out.append("上月没有巡检与服务单数据，不作对比。")
    elif changes:
        out.append("与上月相比：" + "，".join(changes) + "。")
    risks = []
    for label, used, full in disks:
        try:
            day = date.fromisoformat(full)
        except ValueError:
            continue
        if (day - month_end).days <= RISK_DAYS:
            risks.append(f"{label} 月末使用率 {_n(used)}%，按本月增长预计 {full} 写满")
    for host, avail in weak_hosts:
        if avail is not None and avail < AVAILABILITY_WATCH:
            risks.append(f"主机 {host} 可用率 {_n(avail)}%")
    if risks:
        shown = risks[:6]
        more = f"（另有 {len(risks) - 6} 项见各节）" if len(risks) > 6 else ""
        out.append("需关注：" + "；".join(shown) + more + "。")
    else:
        out.append(f"未发现需特别关注的风险（{RISK_DAYS} 天内写满的磁盘、可用率低于 {AVAILABILITY_WATCH:g}% 的主机）。")
    return out
