"""The web layer: the Starlette app, GraphQL endpoint and chat page."""

from persistream.web.app import create_app

__all__ = ["create_app"]
