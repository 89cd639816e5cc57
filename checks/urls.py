"""URLs with credentials in them: basic auth for the request, never the password in a message."""
from __future__ import annotations

import base64
from urllib.parse import quote, unquote, urlsplit, urlunsplit


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """`http://user:pw@host/x` -> (`http://host/x`, {"Authorization": "Basic ..."}), as curl does."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, {}
    token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    plain = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return plain, {"Authorization": "Basic " + base64.b64encode(token).decode("ascii")}


def hide_password(url: str) -> str:
    """The URL for messages and details: its password becomes ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def with_password(url: str, secret: str, default_user: str = "guest") -> str:
    """The URL with `secret` (from an environment variable or a file) as its password."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or default_user
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(secret, safe='')}@{host}"))
