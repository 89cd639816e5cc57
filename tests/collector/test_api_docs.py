"""The OpenAPI document and its viewers need an operator key unless `api.public_docs: true`."""
from __future__ import annotations

from fastapi.testclient import TestClient

from collector.app import create_app
from collector.config import Settings, load_settings
from tests.collector.conftest import Api

DOCS = ("/openapi.json", "/docs", "/redoc")


def test_docs_need_an_operator_key(api: Api) -> None:
    for path in DOCS:
        r = api.client.get(path)
        assert r.status_code == 401, (path, r.status_code)
        assert r.headers.get("www-authenticate") == "Bearer"
        assert "paths" not in r.text
        # an agent token is not an operator key
        assert api.client.get(path, headers=api.h(api.token)).status_code == 401, path
    schema = api.client.get("/openapi.json", headers=api.h(api.viewer_key))
    assert schema.status_code == 200 and "/api/v1/results" in schema.json()["paths"]
    assert "/openapi.json" not in schema.json()["paths"]  # the private routes stay out of the schema
    for path in ("/docs", "/redoc"):
        page = api.client.get(path, headers=api.h(api.viewer_key))
        assert page.status_code == 200 and "/openapi.json" in page.text, path


def test_public_docs_setting_opens_them(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "collector.yaml"
    config.write_text("api: {public_docs: true}\n", encoding="utf-8")
    settings = load_settings(str(config), db_url=db_url, jobs_enabled=False)
    assert settings.api.public_docs is True
    with TestClient(create_app(settings)) as client:
        for path in DOCS:
            assert client.get(path).status_code == 200, path
    assert Settings().api.public_docs is False
