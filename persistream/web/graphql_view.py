"""Strawberry's ASGI view, with the chat service in every context and GraphiQL served from local assets."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from persistream.core.chat import ChatService
from persistream.core.errors import Unauthenticated
from persistream.web.auth import Authenticator, LocalAuthenticator

STATIC_DIR = Path(__file__).parent / "static"
GRAPHIQL_PAGE = STATIC_DIR / "graphiql.html"
GRAPHIQL_ASSETS = STATIC_DIR / "vendor" / "graphiql"


def _shape_error(message: object) -> str | None:
    """Why a WebSocket message is not one the protocols define, or None. Strawberry's handlers index into
    messages without checking their types, so a JSON list, a null or a numeric id would otherwise crash the
    connection with a traceback in the log instead of a protocol error."""
    if not isinstance(message, dict):
        return "Message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "Message type must be a string"
    if kind in ("subscribe", "start", "complete", "stop") and not isinstance(message.get("id"), str):
        return "Message id must be a string"
    if kind in ("subscribe", "start"):
        payload = message.get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "Payload must be an object with a query string"
        for key in ("variables", "extensions"):
            if not isinstance(payload.get(key) or {}, dict):
                return f"Payload {key} must be an object"
        if not isinstance(payload.get("operationName") or "", str):
            return "Payload operationName must be a string"
    return None


class TransportWSHandler(BaseGraphQLTransportWSHandler[dict[str, Any], None]):
    async def handle_message(self, message: Any) -> None:
        if (error := _shape_error(message)) is not None:
            await self.handle_invalid_message(error)  # closes with 4400, as the protocol says
            return
        await super().handle_message(message)

    async def handle_task_exception(self, error: Exception) -> None:
        # A client that leaves while an event is being sent to it is normal (a closed tab), not a server error:
        # Strawberry would log it with a stack trace.
        if not isinstance(error, WebSocketDisconnected):
            await super().handle_task_exception(error)


class LegacyWSHandler(BaseGraphQLWSHandler[dict[str, Any], None]):
    async def handle_message(self, message: Any) -> None:
        if (error := _shape_error(message)) is not None:
            # The legacy protocol answers a bad message with an `error` and keeps the socket.
            op_id = message.get("id") if isinstance(message, dict) else None
            reply: dict[str, Any] = {"type": "error", "payload": {"message": error}}
            if isinstance(op_id, str):
                reply["id"] = op_id
            await self.websocket.send_json(reply)
            return
        await super().handle_message(message)

    async def handle_async_results(self, *args: Any, **kwargs: Any) -> None:
        # As above: a client gone mid-send would leave the task failed and asyncio would log its stack trace.
        with contextlib.suppress(WebSocketDisconnected):
            await super().handle_async_results(*args, **kwargs)


class PersistreamGraphQL(GraphQL[dict[str, Any], None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self,
        chat: ChatService,
        allowed_origins: tuple[str, ...],
        *,
        authenticator: Authenticator | None = None,
        auth_mode: str = "none",
        **kwargs: Any,
    ) -> None:
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
        self.authenticator: Authenticator = authenticator or LocalAuthenticator()
        self.auth_mode = auth_mode

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> dict[str, Any]:
        # Once per HTTP request, and once per WebSocket at the upgrade (on_ws_connect may refine it). A bad
        # credential is kept, not raised, so it surfaces as UNAUTHENTICATED on the operation (HTTP 200 with errors,
        # as GraphQL-over-HTTP clients expect) instead of a transport failure.
        context: dict[str, Any] = {"request": request, "response": response, "chat": self.chat}
        context["auth_mode"] = self.auth_mode
        context.update(await self._resolve(request, None))
        return context

    async def on_ws_connect(self, context: dict[str, Any]) -> Any:
        """At `connection_init`: a token in its payload replaces what the upgrade carried; a bad credential closes
        the socket (4403; the legacy protocol answers `connection_error` first)."""
        params = context.get("connection_params")
        if isinstance(params, dict) and params:
            context.update(await self._resolve(context["request"], params))
        if context.get("auth_error") is not None:
            raise ConnectionRejectionError({"message": "The credential is not valid."})
        return await super().on_ws_connect(context)

    async def _resolve(self, conn: Request | WebSocket, params: dict[str, Any] | None) -> dict[str, Any]:
        try:
            return {"identity": await self.authenticator.authenticate(conn, params), "auth_error": None}
        except Unauthenticated as error:
            return {"identity": None, "auth_error": error}

    async def render_graphql_ide(self, request: Request) -> Response:
        # The pinned local copies (installed by the setup from the npm registry) when present, else the CDN page.
        if GRAPHIQL_PAGE.is_file() and GRAPHIQL_ASSETS.is_dir():
            return HTMLResponse(GRAPHIQL_PAGE.read_text(encoding="utf-8"))
        return HTMLResponse(self.graphql_ide_html)
