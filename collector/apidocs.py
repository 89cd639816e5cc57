"""The OpenAPI document and its two viewers, behind an operator key unless `api.public_docs: true`.

The schema lists every endpoint and field an attacker would probe; on a collector reachable from client
networks it is for operators only. A browser cannot add the Authorization header that Swagger UI's own
fetch of /openapi.json needs, so with private docs an operator reads the schema with a key
(`curl -H 'Authorization: Bearer KEY' …/openapi.json`) or turns `public_docs` on inside a trusted network.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from collector.deps import Viewer

OPENAPI = "/openapi.json"


def docs_urls(public: bool) -> dict[str, Any]:
    """FastAPI's own (open) routes for the docs when they are public, none otherwise."""
    if public:
        return {"openapi_url": OPENAPI, "docs_url": "/docs", "redoc_url": "/redoc"}
    return {"openapi_url": None, "docs_url": None, "redoc_url": None}


def install_private_docs(app: FastAPI) -> None:
    """The same three routes, each needing a viewer's (or higher) API key."""

    @app.get(OPENAPI, include_in_schema=False)
    def openapi(user: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def swagger(user: Viewer) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI, title=f"{app.title} - API")

    @app.get("/redoc", include_in_schema=False)
    def redoc(user: Viewer) -> HTMLResponse:
        return get_redoc_html(openapi_url=OPENAPI, title=f"{app.title} - API")
