"""Keep credentials out of logs, reprs and error texts."""
from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from typing import Optional

MASK = "***"
# Query parameters that carry credentials in robot URLs (DingTalk access_token, WeCom key, ...).
SECRET_PARAMS = {"access_token", "key", "sign", "token", "secret", "signature", "password",
                 "apikey", "api_key"}
_HOOK_PATH = re.compile(r"(/hook/)[^/?#]+")  # Feishu: /open-apis/bot/v2/hook/<token>


def mask_url(url: str) -> str:
    """The URL with credentials replaced by ***: secret query values, Feishu hook ids, user:password@."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        (f"{k}={MASK}" if k.lower() in SECRET_PARAMS else f"{k}={v}") if sep else k
        for k, sep, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    path = _HOOK_PATH.sub(lambda m: m.group(1) + MASK, parts.path)
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, query, parts.fragment))


def url_secrets(url: str) -> list[str]:
    """The credential strings inside a URL, to scrub them from any error text."""
    found = []
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=False):
        if k.lower() in SECRET_PARAMS:
            found += [v, urllib.parse.quote(v, safe=""), urllib.parse.quote_plus(v)]
    m = _HOOK_PATH.search(parts.path)
    if m:
        found.append(m.group(0)[len("/hook/"):])
    if parts.password:
        found.append(parts.password)
    return found


def scrub(text: str, secrets: Iterable[Optional[str]]) -> str:
    """Replace every secret (longest first) in text; short strings are left alone to keep text readable."""
    for s in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(s, MASK)
    return text


SECRET_FIELDS = {"secret", "password", "token", "key", "hmac_secret"}
