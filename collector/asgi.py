"""Entry point for uvicorn (and several worker processes): settings from the environment."""
from __future__ import annotations

from fastapi import FastAPI

from collector.app import create_app
from collector.config import load_settings


def app_factory() -> FastAPI:
    return create_app(load_settings())
