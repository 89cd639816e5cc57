"""What the intake accepts as text: no NUL or lone surrogates (the database cannot hold them), and a
contact phone that is a phone number. Messages are for users (Chinese); shared by the API and console."""
from __future__ import annotations

import re
from typing import Annotated, Optional

from pydantic import AfterValidator, Field

_BAD = re.compile("[\x00\ud800-\udfff]")
# Digits with an optional leading +, spaces or hyphens between groups, and an optional extension
# (转 / 分机 / ext / x / #): "0571-8765 4321 转 806", "+86 138 0013 8000".
_PHONE = re.compile(r"\+?[0-9](?:[0-9 -]*[0-9])?(?:\s*(?:转|分机|ext\.?|x|#)\s*[0-9]{1,6})?", re.IGNORECASE)
PHONE_MAX = 40
PHONE_DIGITS_MIN = 3


def text_problem(value: str) -> Optional[str]:
    m = _BAD.search(value)
    if m is None:
        return None
    return "含有空字符 (NUL)" if m.group() == "\x00" else "含有无法编码的字符 (孤立的代理项)"


def phone_problem(value: str) -> Optional[str]:
    """None when `value` is empty or a phone number, else what is wrong with it."""
    if not value:
        return None
    if len(value) > PHONE_MAX:
        return f"联系电话过长 (最多 {PHONE_MAX} 个字符)"
    if text_problem(value) or not _PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < PHONE_DIGITS_MIN:
        return "联系电话只能包含数字、开头的 +、空格、连字符和分机号 (如 0571-8765 4321 转 806)"
    return None


def _text(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(f"文本{problem}, 请删除后重试")
    return value


def _phone(value: str) -> str:
    value = value.strip()
    problem = phone_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Phone = Annotated[str, Field(max_length=PHONE_MAX), AfterValidator(_phone)]
Clean = AfterValidator(_text)
Text64 = Annotated[str, Field(max_length=64), Clean]
Text128 = Annotated[str, Field(max_length=128), Clean]
Text300 = Annotated[str, Field(max_length=300), Clean]
Text2000 = Annotated[str, Field(max_length=2000), Clean]
Text20000 = Annotated[str, Field(max_length=20000), Clean]
