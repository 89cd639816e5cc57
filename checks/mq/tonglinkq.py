"""TongLINK/Q (东方通): parse `tlqstat -qcu QCU -c` (queue counts) and `-snd` / `-rcv` (links).

`tlqstat -c` prints one section per queue kind, `[Local Queue General Information]:` followed
by a header line and fixed-width rows (names left-aligned, numbers right-aligned); a section may
have a header and no rows. `-snd`/`-rcv` print one table without a section title.
"""
from __future__ import annotations

import re
from typing import Optional

from checks.model import Status
from checks.mq.model import LinkStat, QueueStat, Snapshot, to_int

_SECTION = re.compile(r"^\[(.+?)\]\s*:?\s*$")
_HEADER_WORD = re.compile(r"^[A-Z][A-Za-z]*$")
_TOKEN = re.compile(r"\S+")

Table = list[dict[str, str]]


def _section_key(title: str) -> str:
    """'Local Queue General Information' -> 'local'."""
    return title.split()[0].lower() if title.split() else ""


def _table_key(header: list[str]) -> str:
    if "SocketId" in header:
        return "rcv"
    if header and header[0] == "Name" and "LinkStatus" in header:
        return "snd"
    return "table"


def _row(header: list[re.Match[str]], tokens: list[re.Match[str]]) -> dict[str, str]:
    names = [h.group() for h in header]
    if len(tokens) == len(header):
        return dict(zip(names, (t.group() for t in tokens)))
    # A blank cell shifts the tokens: place each by how much it overlaps each header's span.
    cells: dict[str, list[str]] = {n: [] for n in names}
    spans = [(h.start(), header[k + 1].start() if k + 1 < len(header) else 10**6)
             for k, h in enumerate(header)]
    for t in tokens:
        def overlap(span: tuple[int, int], t: re.Match[str] = t) -> int:
            return min(span[1], t.end()) - max(span[0], t.start())

        best = max(range(len(spans)), key=lambda k: (overlap(spans[k]), -k))
        cells[names[best]].append(t.group())
    return {n: " ".join(v) for n, v in cells.items()}


def parse_tlqstat(text: str) -> dict[str, Table]:
    """{'send': [...], 'local': [...], 'remote': [...], 'virtual': [], 'snd': [...], 'rcv': [...]}."""
    sections: dict[str, Table] = {}
    key: Optional[str] = None
    header: Optional[list[re.Match[str]]] = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        m = _SECTION.match(line.strip())
        if m:
            key, header = _section_key(m.group(1)), None
            sections[key] = []
            continue
        tokens = list(_TOKEN.finditer(line))
        if header is None:
            if len(tokens) >= 2 and all(_HEADER_WORD.match(t.group()) for t in tokens):
                header = tokens
                if key is None:
                    key = _table_key([t.group() for t in tokens])
                sections.setdefault(key, [])
            continue  # prompt lines, banners
        assert key is not None
        sections[key].append(_row(header, tokens))
    return sections


def queues_from_sections(sections: dict[str, Table]) -> list[QueueStat]:
    """Local queues (Ready = depth, Getor = receivers) and send queues (Ready = not yet sent)."""
    out = []
    for kind in ("local", "send"):
        for row in sections.get(kind, []):
            depth = to_int(row.get("Ready"))
            if not row.get("Quename") or depth is None:
                continue
            out.append(QueueStat(name=row["Quename"], depth=depth, consumers=to_int(row.get("Getor")),
                                 kind=kind))
    return out


def links_from_sections(sections: dict[str, Table]) -> list[LinkStat]:
    """Send connections must be `active` and `link`; a receive connection must be `active`."""
    out = []
    for row in sections.get("snd", []):
        status, link = row.get("Status", ""), row.get("LinkStatus", "")
        ok = status.lower() == "active" and link.lower() in ("link", "active")
        peer = f"{row.get('HostName', '')}:{row.get('PortNo', '')}".strip(":")
        out.append(LinkStat("send_conn", row.get("Name", "?"), f"{status}/{link}",
                            Status.OK if ok else Status.CRITICAL, peer))
    for row in sections.get("rcv", []):
        link = row.get("LinkStatus", "")
        ok = link.lower() in ("active", "link")
        out.append(LinkStat("recv_conn", row.get("SndNode") or row.get("IP", "?"), link,
                            Status.OK if ok else Status.WARNING, row.get("IP", "")))
    return out


def snapshot(outputs: list[str]) -> Snapshot:
    sections: dict[str, Table] = {}
    for text in outputs:
        for key, rows in parse_tlqstat(text).items():
            sections.setdefault(key, []).extend(rows)
    return Snapshot(queues=queues_from_sections(sections), links=links_from_sections(sections))
