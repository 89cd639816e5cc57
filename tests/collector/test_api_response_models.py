"""Every /api/v1 operation documents its answer: /openapi.json names a schema for each 2xx body."""
from __future__ import annotations

from typing import Any

from tests.collector.conftest import Api


def documented(response: dict[str, Any]) -> bool:
    for media in (response.get("content") or {}).values():
        schema = media.get("schema") or {}
        if {"$ref", "type", "properties", "anyOf", "allOf"} & set(schema):
            return True
    return False


def undocumented_operations(spec: dict[str, Any]) -> list[str]:
    missing = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in operations.items():
            answers = {code: r for code, r in op["responses"].items() if code.startswith("2")}
            if not any(code == "204" or documented(r) for code, r in answers.items()):
                missing.append(f"{method.upper()} {path}")
    return missing


def test_every_api_operation_declares_its_response_body(api: Api) -> None:
    spec = api.client.get("/openapi.json", headers=api.h(api.viewer_key)).json()
    operations = sum(1 for p, ops in spec["paths"].items() if p.startswith("/api/v1/") for _ in ops)
    assert operations >= 19
    assert undocumented_operations(spec) == []


def test_a_bare_dict_answer_counts_as_undocumented() -> None:
    spec = {"paths": {"/api/v1/x": {"get": {"responses": {"200": {"content": {"application/json": {
        "schema": {"title": "Response X"}}}}}}}}}
    assert undocumented_operations(spec) == ["GET /api/v1/x"]
