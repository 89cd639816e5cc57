"""Text that enters a result from outside (plugin output, log lines, driver and server messages),
made safe to send before it leaves the agent.

NUL, the other C0 control characters except tab and newline, and lone surrogates (what
`surrogateescape` makes of undecodable bytes in file names) are replaced with U+FFFD, the
character a failed decode already shows. U+FFFD rather than a `\\x00` escape: an escape is
text a plugin could print itself, so a reader could no longer tell the two apart, while U+FFFD
says "a character was lost here" and nothing else. CR LF becomes LF; a lone CR is replaced too.
PostgreSQL refuses NUL in text and a JSON encoder refuses lone surrogates, so either would make
the collector refuse the whole batch.
"""
from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` with every unsafe character replaced (the same object when there is none)."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(REPLACEMENT, text.replace("\r\n", "\n"))


def clean_value(value: Any) -> Any:
    """Every string in a JSON-like value cleaned (mapping keys too); other values as they are."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_value(v) for v in value]
    return value


def decode_output(raw: bytes) -> str:
    """Output of a program, as it is: UTF-8, else GB18030 (tools written for Chinese Windows-era
    locales), else UTF-8 with replacement characters; never failing. For parsers that need the
    control characters (a table drawn with terminal escapes); what they extract is cleaned when
    it becomes a result (checks/runner.py)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError:
            return raw.decode("utf-8", "replace")


def decode_text(raw: bytes) -> str:
    """Output of a program that goes into a result as text: decoded and cleaned."""
    return clean_text(decode_output(raw))
