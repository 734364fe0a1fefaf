"""Strawberry's ASGI view, with the chat service in every context and GraphiQL served from local assets."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from persistream.core.chat import ChatService

STATIC_DIR = Path(__file__).parent / "static"
GRAPHIQL_PAGE = STATIC_DIR / "graphiql.html"
GRAPHIQL_ASSETS = STATIC_DIR / "vendor" / "graphiql"


class PersistreamGraphQL(GraphQL[dict[str, Any], None]):
    def __init__(self, chat: ChatService, allowed_origins: tuple[str, ...], **kwargs: Any) -> None:
        from persistream.schema import schema

        super().__init__(
            schema,
            allowed_origins=allowed_origins,
            keep_alive=True,
            keep_alive_interval=15,
            connection_init_wait_timeout=timedelta(seconds=10),
            # Strawberry counts queries sent over the socket as subscriptions too; a chat page keeps one socket.
            max_subscriptions_per_connection=500,
            **kwargs,
        )
        self.chat = chat

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> dict[str, Any]:
        return {"request": request, "response": response, "chat": self.chat}

    async def render_graphql_ide(self, request: Request) -> Response:
        # The pinned local copies (installed by the setup from the npm registry) when present, else the CDN page.
        if GRAPHIQL_PAGE.is_file() and GRAPHIQL_ASSETS.is_dir():
            return HTMLResponse(GRAPHIQL_PAGE.read_text(encoding="utf-8"))
        return HTMLResponse(self.graphql_ide_html)
