"""An app factory for ASGI servers that import by name (uvicorn --factory, several workers)."""

from __future__ import annotations

from starlette.applications import Starlette

from persistream.config import Settings
from persistream.web.app import create_app


def create_app_from_env() -> Starlette:
    return create_app(Settings.from_env())
