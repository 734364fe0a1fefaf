"""The web layer: the Starlette app, GraphQL endpoint and chat page, and the lifespan a host app that mounts it
enters."""

from persistream.web.app import create_app
from persistream.web.mounting import lifespan

__all__ = ["create_app", "lifespan"]
