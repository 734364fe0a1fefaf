"""The GraphQL context as the view makes it: the resolvers' `Context`, plus what only the web layer reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from persistream.resolvers.context import Context


@dataclass(kw_only=True)
class WebContext(Context):
    request: Request | WebSocket
    response: Response | WebSocket
    # The payload of a WebSocket's `connection_init`. Strawberry stores it here when the context has this attribute
    # (a dict context gets a key instead), before it calls the view's on_ws_connect.
    connection_params: dict[str, Any] | None = None
