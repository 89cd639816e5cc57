"""RabbitMQ listings: `rabbitmqctl list_queues` (plain or pretty_table) and the management API
`/api/queues` JSON. Pure functions; the AMQP source lives in checks.mq.amqp."""
from __future__ import annotations

import json
import re
from typing import Any, Optional

from checks.mq.model import BAD_STATES, QueueStat, Snapshot, to_int

_BAR = "\u2502"  # │, the pretty_table column separator
# Without a UTF-8 terminal pretty_table draws with VT100 line graphics (ESC ( 0 ... ESC ( B)
# and bolds the header with SGR codes; turn both back into plain box characters.
_DEC_GRAPHICS = re.compile("\x1b\\(0(.*?)\x1b\\(B")
_DEC_MAP = str.maketrans("xqlkmjtuwvn", "\u2502\u2500\u250c\u2510\u2514\u2518\u251c\u2524\u252c\u2534\u253c")
_SGR = re.compile("\x1b\\[[0-9;]*m")
_VHOST_BANNER = re.compile(r"^Listing queues for vhost (.+?) \.\.\.\s*$")
_COUNTS = ("messages", "messages_ready")


def _plain(text: str) -> str:
    if "\x1b" not in text:
        return text
    text = _DEC_GRAPHICS.sub(lambda m: m.group(1).translate(_DEC_MAP), text)
    return _SGR.sub("", text)


def parse_list_queues(text: str, columns: Optional[list[str]] = None) -> list[dict[str, str]]:
    """Rows of `rabbitmqctl list_queues` as dicts keyed by column name.

    The first row is the column header unless `columns` is given and the output has none
    (`--no-table-headers`). Banner lines (`Timeout: ...`, `Listing queues ...`) and anything
    before them (an echoed command) are skipped.
    """
    lines = _plain(text).splitlines()
    if any(line.lstrip().startswith(_BAR) for line in lines):
        rows = [[c.strip() for c in line.strip().strip(_BAR).split(_BAR)]
                for line in lines if line.lstrip().startswith(_BAR)]
    else:
        start = 0
        for i, line in enumerate(lines):
            if line.startswith("Listing queues"):
                start = i + 1
        rows = [line.split("\t") if "\t" in line else line.split()
                for line in lines[start:] if line.strip() and not line.startswith("Timeout:")]
    if not rows:
        return []
    header = rows[0]
    if columns is not None and [h.strip() for h in header] != columns:
        header = columns
    else:
        rows = rows[1:]
    return [dict(zip(header, r)) for r in rows]


def _depth(d: dict[str, Any]) -> Optional[int]:
    depth = to_int(d.get("messages"))
    if depth is None:
        ready, unacked = to_int(d.get("messages_ready")), to_int(d.get("messages_unacknowledged"))
        if ready is not None:
            depth = ready + (unacked or 0)
    return depth


def queues_from_rows(rows: list[dict[str, Any]], vhost: str = "") -> list[QueueStat]:
    """A row whose count cells are empty (a queue that is down answers nothing) is kept with
    depth None; rows of a listing that asked for no count at all are left out, unless their
    state says the queue is not working (the API omits the counts of a queue that is down)."""
    out = []
    for d in rows:
        name = d.get("name")
        bad = str(d.get("state") or "").strip().lower() in BAD_STATES
        if not name or not (bad or any(k in d for k in _COUNTS)):
            continue
        out.append(QueueStat(name=str(name), depth=_depth(d), consumers=to_int(d.get("consumers")),
                             kind=str(d.get("type") or ""), owner=str(d.get("vhost") or vhost),
                             state=str(d.get("state") or "")))
    return out


def listed_vhost(text: str) -> str:
    """The vhost named by the `Listing queues for vhost X ...` banner ("" with -q)."""
    for line in _plain(text).splitlines()[:20]:
        m = _VHOST_BANNER.match(line.strip())
        if m:
            return m.group(1)
    return ""


def parse_api_queues(text: str) -> list[QueueStat]:
    """GET /api/queues (a JSON array of queue objects)."""
    data = json.loads(text)
    if isinstance(data, dict) and "items" in data:  # paginated form (?page=1)
        data = data["items"]
    if not isinstance(data, list):
        raise ValueError("/api/queues did not return a list")
    return queues_from_rows([d for d in data if isinstance(d, dict)])


def snapshot_from_ctl(outputs: list[str], columns: Optional[list[str]] = None) -> Snapshot:
    queues = [q for text in outputs
              for q in queues_from_rows(parse_list_queues(text, columns), listed_vhost(text))]
    return Snapshot(queues=queues)
