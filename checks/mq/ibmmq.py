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
# Before MQ 9 an error may name its object on the next line: "AMQ8149: ... damaged." + "[2016, QL.A]"
_INSERTS = re.compile(r"^\[([^\[\]]*)\]$")
_NOT_FOUND = re.compile(r"object (\S+) not found", re.IGNORECASE)

QUEUE_DETAILS = "AMQ8409"
QUEUE_STATUS = "AMQ8450"
CHANNEL_STATUS = "AMQ8417"
QMGR_STATUS = "AMQ8705"
OBJECT_DAMAGED = "AMQ8149"
OBJECT_NOT_FOUND = "AMQ8147"
QMGR_UNAVAILABLE = "AMQ8146"
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
    inserts: list[str] = field(default_factory=list)  # "[2016, QL.A]" under an error: reason, object


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
        inserts = _INSERTS.match(body) if not current.attrs and indent > header_indent else None
        if inserts:
            current.inserts = [x.strip() for x in inserts.group(1).split(",")]
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


def object_named(r: MqscRecord) -> str:
    """The object an error record is about, when the output says: `object X not found`, or the
    last insert of `[2016, QL.A]`; "" when it does not (MQ 9 prints AMQ8149S without a name)."""
    m = _NOT_FOUND.search(r.message)
    if m:
        return m.group(1)
    return r.inserts[-1] if len(r.inserts) > 1 else ""


def queues_from_records(records: list[MqscRecord]) -> list[QueueStat]:
    """DISPLAY QLOCAL (AMQ8409) and DISPLAY QSTATUS TYPE(QUEUE) (AMQ8450) per queue of each queue
    manager, plus the queues an AMQ8149 (object damaged) record names.

    Queues of different queue managers stay apart even with the same name. Two CURDEPTH values
    of one queue (QLOCAL and QSTATUS taken moments apart) keep the larger, so a backlog is never
    hidden. Queues without a CURDEPTH anywhere (e.g. only MAXDEPTH displayed) are left out unless
    damaged; so are alias/remote queues and QSTATUS TYPE(HANDLE) records.

    MQ 9 prints AMQ8149S without a name: then a local queue of that queue manager that was
    listed by name but has no depth anywhere (the damaged one is missing from DISPLAY QSTATUS)
    is reported as "suspect_damaged", since that is all the output says.
    """
    merged: dict[tuple[str, str], dict[str, str]] = {}
    damaged: set[tuple[str, str]] = set()
    unnamed = {r.qmgr for r in records if r.msgid == OBJECT_DAMAGED and not object_named(r)}
    for r in records:
        if r.msgid == OBJECT_DAMAGED:
            name = object_named(r)
            if name:
                damaged.add((r.qmgr, name))
                merged.setdefault((r.qmgr, name), {})
            continue
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
        into = merged.setdefault((r.qmgr, name), {})
        for key, value in r.attrs.items():
            if key == "CURDEPTH" and key in into:
                value = str(max(to_int(value) or 0, to_int(into[key]) or 0))
            if value != "" or key not in into:
                into[key] = value
    out = []
    for (qmgr, name), a in merged.items():
        depth = to_int(a.get("CURDEPTH"))
        state = "damaged" if (qmgr, name) in damaged else ""
        if depth is None and not state:
            if qmgr not in unnamed:
                continue
            state = "suspect_damaged"
        out.append(QueueStat(name=name, depth=depth, consumers=to_int(a.get("IPPROCS")),
                             producers=to_int(a.get("OPPROCS")), max_depth=to_int(a.get("MAXDEPTH")),
                             kind="local", owner=qmgr, state=state))
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
    """Error messages runmqsc printed, worded for the summary. Errors that name their object
    (AMQ8147 not found, AMQ8149 damaged) are not here: snapshot() puts them on the object."""
    out = []
    for r in records:
        if r.attrs or (r.msgid in (OBJECT_DAMAGED, OBJECT_NOT_FOUND) and object_named(r)):
            continue
        where = f"队列管理器 {r.qmgr} " if r.qmgr else ""
        said = f"({r.msgid}{r.severity}: {r.message})"
        known = _FAILURES.get(r.msgid)
        if r.msgid == OBJECT_DAMAGED:
            out.append((Status.CRITICAL, f"{where}报告有对象已损坏, 输出未指明是哪个 {said}"))
        elif known is not None:
            status, text = known
            if r.qmgr and text.startswith("队列管理器"):  # "队列管理器 QM1 不可用", not said twice
                text = text[len("队列管理器"):]
            out.append((status, f"{where}{text} {said}".strip()))
        elif r.severity in ("E", "S"):
            out.append((Status.UNKNOWN, f"{where}{r.msgid}{r.severity}: {r.message}"))
    return list(dict.fromkeys(out))


def unlisted_hints(records: list[MqscRecord], qmgrs: list[QmgrStatus]) -> list[str]:
    """What in the output can explain a queue missing from the listing."""
    hints = []
    for r in records:
        where = f"队列管理器 {r.qmgr} " if r.qmgr else ""
        if r.msgid == OBJECT_DAMAGED and not object_named(r):
            hints.append(f"{where}报告有对象已损坏 ({r.msgid}{r.severity})")
        elif r.msgid == QMGR_UNAVAILABLE:
            hints.append(f"{where or '队列管理器'}不可用 ({r.msgid}{r.severity})")
    hints += [f"队列管理器 {q.name} 状态 {q.status}" for q in qmgrs
              if not q.status.strip().upper().startswith("RUNNING")]
    return list(dict.fromkeys(hints))


def snapshot(outputs: list[str], qmgr: str = "") -> Snapshot:
    """Everything the runmqsc and dspmq outputs of one run say, in one Snapshot. `qmgr` names the
    queue manager of output that does not say it (runmqsc without its banner)."""
    records = [r for text in outputs for r in parse_runmqsc(text)]
    for r in records:
        r.qmgr = r.qmgr or qmgr
    qmgrs = _dedupe(qmgrs_from_records(records) + [q for text in outputs for q in parse_dspmq(text)])
    missing = [object_named(r) for r in records if r.msgid == OBJECT_NOT_FOUND and object_named(r)]
    return Snapshot(queues=queues_from_records(records),
                    links=[qmgr_link(q) for q in qmgrs] + channels_from_records(records),
                    problems=failures(records), missing=list(dict.fromkeys(missing)),
                    unlisted_hints=unlisted_hints(records, qmgrs))


def _dedupe(qmgrs: list[QmgrStatus]) -> list[QmgrStatus]:
    """dspmq and QMSTATUS may both report a queue manager: keep the first of each name."""
    seen: dict[str, QmgrStatus] = {}
    for q in qmgrs:
        seen.setdefault(q.name, q)
    return list(seen.values())
