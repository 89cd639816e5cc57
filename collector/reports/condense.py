"""What the PDF lists, where a table of the month is long: the reader's rows and columns, the rest
summarized in the section's note. The XLSX keeps every row and field; every 系统服务单 is printed in
full in the forms bundle handed over with the report (collector/reports/forms.py)."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Optional

from collector.reports.data import Table

DISK_FULL_PCT = 80.0  # a mount at least this full at the month's end is listed
DISK_HORIZON = timedelta(days=90)  # ... and one forecast to fill within this of the month's end
SUMMARY_CHARS = 60  # 问题描述 in the ticket ledger
TICKET_COLUMNS = ("编号", "客户单位", "系统", "渠道", "热线时间", "解决问题时间", "工程师姓名", "问题描述",
                  "响应(小时)", "响应计时", "响应结果", "满意度")
FULL_LIST = "完整列表见 Excel 版"


def for_document(t: Table, month_end: Optional[date]) -> Table:
    if t.key == "host_availability":
        return hosts(t)
    if t.key == "disks":
        return disks(t, month_end)
    if t.key == "tickets":
        return tickets(t)
    return t


def _note(t: Table, extra: str) -> str:
    return f"{t.note}; {extra}" if t.note else extra


def hosts(t: Table) -> Table:
    """Hosts below 100 % availability (worst first, as built); the others counted."""
    col = t.headers.index("全月可用率(%)")
    listed = [r for r in t.rows if r[col] is None or r[col] < 100]
    rest = len(t.rows) - len(listed)
    if not rest:
        return t
    return Table(t.key, t.title, t.headers, listed, t.widths,
                 _note(t, f"另有 {rest} 台主机全月可用率 100%, 未逐一列出 ({FULL_LIST})"))


def disks(t: Table, month_end: Optional[date]) -> Table:
    """Mounts at least 80 % full or forecast to fill within 90 days of the month's end; the others counted."""
    end_col, full_col = t.headers.index("月末使用率(%)"), t.headers.index("预计写满日期")
    horizon = (month_end + DISK_HORIZON).isoformat() if month_end else None

    def risky(r: list) -> bool:
        full = r[full_col]
        soon = horizon is not None and isinstance(full, str) and full[:1].isdigit() and full <= horizon
        return (r[end_col] is not None and r[end_col] >= DISK_FULL_PCT) or soon

    listed = [r for r in t.rows if risky(r)]
    rest = len(t.rows) - len(listed)
    if not rest:
        return t
    return Table(t.key, t.title, t.headers, listed, t.widths, _note(
        t, f"列出月末使用率 ≥ {DISK_FULL_PCT:.0f}% 或 {DISK_HORIZON.days} 天内将写满的挂载点; 另有 {rest} 个挂载点"
           f"未逐一列出 ({FULL_LIST})"))


def tickets(t: Table) -> Table:
    """Every ticket on one line: the columns a reader scans (as many as fit a landscape page without
    breaking a time), 问题描述 shortened."""
    cols = [t.headers.index(h) for h in TICKET_COLUMNS]
    desc = TICKET_COLUMNS.index("问题描述")
    times = [TICKET_COLUMNS.index("热线时间"), TICKET_COLUMNS.index("解决问题时间")]
    rows = []
    for r in t.rows:
        row = [r[c] for c in cols]
        text = str(row[desc] or "")
        row[desc] = text if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"
        for c in times:  # the report's month says the year: "09-18 17:09" stays on one line beside the text
            if isinstance(row[c], str) and len(row[c]) == 16 and row[c][4] == "-":
                row[c] = row[c][5:]
        rows.append(row)
    return Table(t.key, t.title, list(TICKET_COLUMNS), rows, [t.widths[c] for c in cols],
                 _note(t, f"时间为 月-日 时:分; 全部内容见随附的系统服务单 (每单一页) 和 Excel 版; 问题描述只列前 "
                          f"{SUMMARY_CHARS} 字"))
