"""Lists answer {"items": [...], "next": PATH_OR_NULL}; `next` carries an opaque keyset cursor."""
from __future__ import annotations

import base64
import json
from typing import Any, Generic, Optional, TypeVar
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A list answer; `next` is the path of the next page or null."""

    items: list[T]
    next: Optional[str] = None


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        raise HTTPException(400, "cursor 无效") from None


def next_path(request: Request, cursor: Any) -> str:
    params = {k: v for k, v in request.query_params.items() if k != "cursor"}
    params["cursor"] = encode_cursor(cursor)
    return f"{request.url.path}?{urlencode(params)}"


def page(items: list[Any], limit: int, request: Request, cursor_of: Any) -> dict[str, Any]:
    """`items` was fetched with limit+1 rows: the extra row tells whether a next page exists."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next": next_path(request, cursor_of(items[-1])) if more and items else None}
