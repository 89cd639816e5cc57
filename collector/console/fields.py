"""Checks of text typed into console forms: a problem is a Chinese sentence naming the field; the value is
kept as typed so the page can show it again and nothing is lost."""
from __future__ import annotations

import re
from typing import Optional

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def text_problem(label: str, value: str, limit: int, *, required: bool = False, multiline: bool = False
                 ) -> Optional[str]:
    if required and not value:
        return f"请填写{label}"
    if len(value) > limit:
        return f"{label}过长 (最多 {limit} 字, 现有 {len(value)} 字)"
    allowed = "\n\r\t" if multiline else ""
    if any((not c.isprintable() and c not in allowed) or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        return f"{label}含有不可见的控制字符 (如 NUL), 请删除后重试"
    return None


def problems(*checks: Optional[str]) -> list[str]:
    return [c for c in checks if c]
