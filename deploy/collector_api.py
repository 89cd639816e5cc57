"""The two collector endpoints the rollout needs, over urllib (keeps deploy light).

`POST /api/v1/agents` enrolls a host (or re-enrolls it, rotating its token);
`GET /api/v1/results?host=H&limit=1` shows whether its results arrive.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from deploy.errors import DeployError


class CollectorClient:
    def __init__(self, url: str, api_key: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the key
        return f"CollectorClient({self.url!r})"

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self._api_key}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode("utf-8", "replace")
            raise DeployError(f"采集端 {method} {path.split('?')[0]} 返回 HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise DeployError(f"无法访问采集端 {self.url}: {reason}") from None
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            raise DeployError(f"采集端 {path} 的应答不是 JSON") from None

    def enroll(self, host: str, labels: dict[str, str]) -> str:
        """Enroll `host` and return its new agent token."""
        answer = self._request("POST", "/api/v1/agents", {"host": host, "labels": labels})
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise DeployError("采集端注册应答中没有 token")
        return token

    def latest_result(self, host: str) -> dict[str, Any] | None:
        q = urllib.parse.urlencode({"host": host, "limit": 1})
        answer = self._request("GET", f"/api/v1/results?{q}")
        items = answer.get("items") if isinstance(answer, dict) else None
        return items[0] if items else None

    def wait_for_new_result(self, host: str, after_id: Any, timeout: float,
                            interval: float = 1.0) -> dict[str, Any] | None:
        """Poll until a result other than `after_id` shows up for `host`; None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.latest_result(host)
            if item is not None and item.get("id") != after_id:
                return item
            if time.monotonic() >= deadline:
                return None
            time.sleep(interval)
