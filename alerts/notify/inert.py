"""Text from tickets, agents and customers made inert in notifications.

Robot markdown (DingTalk, WeCom, Feishu lark_md) turns `[text](url)` into a link, `![](url)` into an
image the client fetches, and reads HTML-like tags (`<font>`, WeCom `<@user>`, Feishu `<at id=all>`,
which mentions everyone). Data shown there has its angle and square brackets replaced by their
full-width forms, which read the same to people and mean nothing to the renderers. A subject (mail
header, robot title) is one line: a CR/LF there would end the header or fail the send.
"""
from __future__ import annotations

import re

_MARKDOWN = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # C0 controls but \t and \n
_BREAKS = re.compile(r"[\s\x00-\x1f\x7f\u2028\u2029]+")


def markdown_text(value: str) -> str:
    """`value` shown as written inside robot markdown: no link, image, mention or tag."""
    return _CONTROL.sub(" ", value).translate(_MARKDOWN)


def one_line(value: str) -> str:
    """`value` on one line, runs of whitespace and control characters made one space."""
    return _BREAKS.sub(" ", value).strip()
