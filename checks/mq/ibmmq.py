"""IBM MQ: parse `runmqsc` and `dspmq` output (pure functions, no MQ client library).

runmqsc prints each object as a message line (`AMQ8409I: Display Queue details.`, the severity
letter is absent before MQ 9) followed by indented attributes in two columns; an attribute too
long for its column gets a line of its own. Values may be empty `( )`, nested
`CONNAME(10.0.0.1(1414))` or hold spaces `STATUS(Ended normally)`, so attributes are read by
balancing parentheses, not by splitting on columns or spaces.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from checks.model import Status
from checks.mq.model import LinkStat, QueueStat, Snapshot, to_int

_MSG = re.compile(r"^(AMQ\d{4})([A-Z])?:\s*(.*)$")
_KEY = re.compile(r"[A-Z][A-Z0-9]*")
# Fast path for the usual line: flat values only (no nested parentheses).
_FLAT_LINE = re.compile(r"(?:[ \t]*[A-Z][A-Z0-9]*(?:\([^()]*\))?(?=[ \t]|$))+[ \t]*")
_FLAT_ATTR = re.compile(r"([A-Z][A-Z0-9]*)(?:\(([^()]*)\))?")
_STARTING = re.compile(r"Starting MQSC for queue manager (\S+?)\.?\s*$")

QUEUE_DETAILS = "AMQ8409"
QUEUE_STATUS = "AMQ8450"
CHANNEL_STATUS = "AMQ8417"
QMGR_STATUS = "AMQ8705"
CHANNEL_STATUS_NOT_FOUND = "AMQ8420"
# Failures printed without attributes; before MQ 9 they carry no severity letter.
_FAILURES = {
    "AMQ8146": (Status.CRITICAL, "队列管理器不可用"),
    "AMQ8118": (Status.CRITICAL, "队列管理器不存在"),
    "AMQ8135": (Status.UNKNOWN, "无权限执行 MQSC 命令"),
    "AMQ8147": (Status.CRITICAL, "对象不存在"),
    "AMQ8405": (Status.UNKNOWN, "MQSC 命令语法错误"),
}


@dataclass
class MqscRecord:
    msgid: str                     # AMQ8409
    severity: str                  # I, W, E, S or "" (before MQ 9)
    message: str                   # Display Queue details.
    attrs: dict[str, str] = field(default_factory=dict)
    qmgr: str = ""                 # from "Starting MQSC for queue manager X."


@dataclass
class QmgrStatus:
    name: str
    status: str                    # Running, Ended normally, Running as standby, RUNNING ...
    attrs: dict[str, str] = field(default_factory=dict)
    instances: list[dict[str, str]] = field(default_factory=list)  # dspmq -x INSTANCE(...) MODE(...)


def parse_attributes(line: str) -> Optional[list[tuple[str, str]]]:
    """`KEY(value) FLAG KEY2( )` -> [(KEY, value), (FLAG, ''), (KEY2, '')]; None if the line
    is not made of attributes only (banners, command echoes, summaries)."""
    if _FLAT_LINE.fullmatch(line):
        return [(k, v.strip()) for k, v in _FLAT_ATTR.findall(line)] or None
    out: list[tuple[str, str]] = []
    i, n = 0, len(line)
    while i < n:
        if line[i].isspace():
            i += 1
            continue
        m = _KEY.match(line, i)
        if not m:
            return None
        key, i = m.group(), m.end()
        if i < n and line[i] == "(":
            depth, j = 0, i
            while j < n:
                if line[j] == "(":
                    depth += 1
                elif line[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if depth:  # unbalanced: the rest of the line is the value
                out.append((key, line[i + 1:].strip()))
                break
            out.append((key, line[i + 1:j].strip()))
            i = j + 1
        elif i < n and not line[i].isspace():
            return None
        else:
            out.append((key, ""))
    return out or None


def _indent(line: str) -> int:
    wide = line.expandtabs(8)
    return len(wide) - len(wide.lstrip())


def parse_runmqsc(text: str) -> list[MqscRecord]:
    records: list[MqscRecord] = []
    current: Optional[MqscRecord] = None
    header_indent = 0
    qmgr = ""
    for raw in text.splitlines():  # also splits CRLF
        line = raw.rstrip()
        body = line.lstrip()
        if not body:
            continue
        indent = len(line) - len(body) if "\t" not in line else _indent(line)
        if body.startswith("AMQ"):
            m = _MSG.match(body)
            if m:
                current = MqscRecord(m.group(1), m.group(2) or "", m.group(3).strip(), qmgr=qmgr)
                records.append(current)
                header_indent = indent
                continue
        elif body.startswith("Starting MQSC"):
            started = _STARTING.search(body)
            if started:
                qmgr, current = started.group(1), None
                continue
        if current is None:
            continue
        attrs = parse_attributes(body) if indent > header_indent else None
        if attrs is None:
            current = None  # "One MQSC command read.", an echoed command, a prompt...
            continue
        for key, value in attrs:
            current.attrs.setdefault(key, value)
    return records


def parse_dspmq(text: str) -> list[QmgrStatus]:
    """`dspmq` lines `QMNAME(QM1)  STATUS(Running)`, with `-x` INSTANCE lines under them."""
    found: list[QmgrStatus] = []
    for raw in text.splitlines():
        body = raw.strip()
        attrs = parse_attributes(body) if body.startswith(("QMNAME(", "INSTANCE(")) else None
        if not attrs:
            continue
        d = dict(attrs)
        if attrs[0][0] == "QMNAME" and "STATUS" in d:
            found.append(QmgrStatus(d["QMNAME"], d["STATUS"], d))
        elif attrs[0][0] == "INSTANCE" and "MODE" in d and found:
            found[-1].instances.append(d)
    return found


def qmgrs_from_records(records: list[MqscRecord]) -> list[QmgrStatus]:
    """DISPLAY QMSTATUS records (AMQ8705) as queue manager states."""
    return [QmgrStatus(r.attrs.get("QMNAME", r.qmgr), r.attrs.get("STATUS", ""), dict(r.attrs))
            for r in records if r.msgid == QMGR_STATUS]


def queues_from_records(records: list[MqscRecord]) -> list[QueueStat]:
    """Merge DISPLAY QLOCAL (AMQ8409) and DISPLAY QSTATUS TYPE(QUEUE) (AMQ8450) per queue.

    Queues without a CURDEPTH anywhere (e.g. only MAXDEPTH displayed) are left out; so are
    alias/remote queues and QSTATUS TYPE(HANDLE) records.
    """
    merged: dict[str, dict[str, str]] = {}
    for r in records:
        name = r.attrs.get("QUEUE")
        if not name:
            continue
        kind = r.attrs.get("TYPE", "")
        if r.msgid == QUEUE_DETAILS and kind not in ("", "QLOCAL"):
            continue
        if r.msgid == QUEUE_STATUS and kind not in ("", "QUEUE"):
            continue
        if r.msgid not in (QUEUE_DETAILS, QUEUE_STATUS):
            continue
        into = merged.setdefault(name, {})
        for key, value in r.attrs.items():
            if value != "" or key not in into:
                into[key] = value
    out = []
    for name, a in merged.items():
        depth = to_int(a.get("CURDEPTH"))
        if depth is None:
            continue
        out.append(QueueStat(name=name, depth=depth, consumers=to_int(a.get("IPPROCS")),
                             producers=to_int(a.get("OPPROCS")), max_depth=to_int(a.get("MAXDEPTH")),
                             kind="local"))
    return out


_CHANNEL_BAD = {"STOPPED": Status.CRITICAL, "RETRYING": Status.CRITICAL}


def channel_status(state: str) -> Status:
    """RUNNING is fine; STOPPED and RETRYING mean messages do not flow; the transitional states
    (BINDING, STARTING, INITIALIZING, REQUESTING, STOPPING, SWITCHING, PAUSED) are warnings."""
    s = state.strip().upper()
    if s == "RUNNING":
        return Status.OK
    return _CHANNEL_BAD.get(s, Status.WARNING)


def channels_from_records(records: list[MqscRecord]) -> list[LinkStat]:
    """One LinkStat per channel name; SVRCONN channels have one record per instance."""
    by_name: dict[str, list[MqscRecord]] = {}
    for r in records:
        if r.msgid == CHANNEL_STATUS and r.attrs.get("CHANNEL"):
            by_name.setdefault(r.attrs["CHANNEL"], []).append(r)
    out = []
    for name, recs in by_name.items():
        states = [r.attrs.get("STATUS", "") for r in recs]
        worst_rec = max(recs, key=lambda r: channel_status(r.attrs.get("STATUS", "")).severity)
        state = worst_rec.attrs.get("STATUS", "")
        conn = worst_rec.attrs.get("CONNAME", "")
        detail = f"{recs[0].attrs.get('CHLTYPE', '')} {len(recs)} 个实例".strip() if len(recs) > 1 \
            else " ".join(x for x in (recs[0].attrs.get("CHLTYPE", ""), conn) if x)
        out.append(LinkStat("channel", name, state or "/".join(states), channel_status(state), detail))
    return out


def qmgr_link(q: QmgrStatus) -> LinkStat:
    """Running (also 'Running as standby' / 'Running elsewhere' of a multi-instance pair) is OK;
    anything else is CRITICAL: the applications cannot put or get."""
    ok = q.status.strip().upper().startswith("RUNNING")
    return LinkStat("qmgr", q.name, q.status, Status.OK if ok else Status.CRITICAL)


def failures(records: list[MqscRecord]) -> list[tuple[Status, str]]:
    """Error messages runmqsc printed, worded for the summary."""
    out = []
    for r in records:
        if r.attrs:
            continue
        known = _FAILURES.get(r.msgid)
        if known is not None:
            status, text = known
            out.append((status, f"{text} ({r.msgid}: {r.message})"))
        elif r.severity in ("E", "S"):
            out.append((Status.UNKNOWN, f"{r.msgid}{r.severity}: {r.message}"))
    return out


def snapshot(outputs: list[str]) -> Snapshot:
    """Everything the runmqsc and dspmq outputs of one run say, in one Snapshot."""
    records = [r for text in outputs for r in parse_runmqsc(text)]
    qmgrs = qmgrs_from_records(records) + [q for text in outputs for q in parse_dspmq(text)]
    return Snapshot(queues=queues_from_records(records),
                    links=[qmgr_link(q) for q in _dedupe(qmgrs)] + channels_from_records(records),
                    problems=failures(records))


def _dedupe(qmgrs: list[QmgrStatus]) -> list[QmgrStatus]:
    """dspmq and QMSTATUS may both report a queue manager: keep the first of each name."""
    seen: dict[str, QmgrStatus] = {}
    for q in qmgrs:
        seen.setdefault(q.name, q)
    return list(seen.values())
