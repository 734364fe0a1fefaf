"""Strawberry's ASGI view, with the chat service in every context and GraphiQL served from local assets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import strawberry
from cross_web import HTTPException
from graphql import GraphQLError, GraphQLSyntaxError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocket
from starlette.websockets import WebSocketDisconnected as StarletteDisconnected
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from persistream import metrics
from persistream.chat.service import ChatService
from persistream.errors import Unauthenticated
from persistream.schema.shared import shared_payload_json
from persistream.web.auth import Authenticator, LocalAuthenticator
from persistream.web.shutdown import CONNECTION_KEY, Connection

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


# Every transport /graphql serves subscriptions over: the two WebSocket protocols, then GraphQL over SSE in its
# "distinct connections" mode (a POST with `Accept: text/event-stream`, what the graphql-sse client sends) and
# Apollo's multipart HTTP subscriptions (`Accept: multipart/mixed;subscriptionSpec="1.0"`). Strawberry picks the
# HTTP ones from the Accept header; the request goes through get_context like any other, so the identity rules,
# the middlewares (host, origin, body size) and the document limits are the same as for a query.
SUBSCRIPTION_PROTOCOLS = (
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    GRAPHQL_SSE_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)

# How long a client may wait before its first message: the same for both protocols.
CONNECTION_INIT_TIMEOUT = 10.0
TOO_MANY_SUBSCRIPTIONS = "Too many subscriptions open on this connection; complete one first."


def _too_many_subscriptions() -> dict[str, Any]:
    metrics.LIMITS_HIT.labels("subscriptions_per_connection").inc()
    # A hint: a slot frees when one of the client's own operations ends.
    return {"message": TOO_MANY_SUBSCRIPTIONS, "extensions": {"code": "RATE_LIMITED", "retryAfter": 1}}


def _is_token_limit(error: GraphQLError) -> bool:
    return isinstance(error, GraphQLSyntaxError) and "Document contains more than" in error.message


class TransportWSHandler(BaseGraphQLTransportWSHandler[dict[str, Any], None]):
    async def handle_message(self, message: Any) -> None:
        if (error := _shape_error(message)) is not None:
            await self.handle_invalid_message(error)  # closes with 4400, as the protocol says
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: Any) -> None:
        # Strawberry's own limit answers with an error that has no code; the contract's is RATE_LIMITED. Finished
        # operations (a query sent over the socket) leave `operations`, so they stop counting when they end.
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            await self.websocket.send_json(
                {"id": message["id"], "type": "error", "payload": [_too_many_subscriptions()]}
            )
            return
        await super().handle_subscribe(message)

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        # A syntax error closes the socket (4400), but a document over PERSISTREAM_MAX_QUERY_TOKENS is a document
        # limit: an error for that operation only, as for the other limits.
        if _is_token_limit(error):
            return None
        return BaseGraphQLTransportWSHandler._get_pre_execution_close_reason(error)

    async def handle_task_exception(self, error: Exception) -> None:
        # A client that leaves while an event is being sent to it is normal (a closed tab), not a server error:
        # Strawberry would log it with a stack trace.
        if not isinstance(error, WebSocketDisconnected):
            await super().handle_task_exception(error)


class LegacyWSHandler(BaseGraphQLWSHandler[dict[str, Any], None]):
    async def handle(self) -> None:
        # The legacy protocol has no connection_init timeout of its own: a socket that never says hello would be
        # held open forever. Close it as graphql-transport-ws does (4408).
        watchdog = asyncio.create_task(self._close_unless_initialised())
        try:
            await super().handle()
        finally:
            watchdog.cancel()

    async def _close_unless_initialised(self) -> None:
        await asyncio.sleep(CONNECTION_INIT_TIMEOUT)
        if not self.connection_acknowledged:
            with contextlib.suppress(Exception):
                await self.websocket.close(code=4408, reason="Connection initialisation timeout")

    async def handle_connection_init(self, message: Any) -> None:
        if self.connection_acknowledged:
            # Strawberry would authenticate the socket again and start a second keep-alive task, leaving the first
            # orphaned (its exception never retrieved once the socket closes). As over graphql-transport-ws, a
            # second connection_init closes the socket with 4429.
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        # Strawberry answers a refused credential with `connection_error`, then closes with 1011, the code of a
        # server failure. The refusal is the client's: 4403, as over graphql-transport-ws.
        websocket = self.websocket
        close = websocket.close

        async def close_refused(code: int, reason: str) -> None:
            await close(4403 if code == 1011 else code, reason or "Forbidden")

        websocket.close = close_refused  # type: ignore[method-assign]
        try:
            await super().handle_connection_init(message)
        finally:
            websocket.close = close  # type: ignore[method-assign]

    async def handle_start(self, message: Any) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message["id"] not in self.tasks
            and len(self.tasks) >= limit
        ):
            await self.websocket.send_json({"type": "error", "id": message["id"], "payload": _too_many_subscriptions()})
            return
        await super().handle_start(message)

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


# A WebSocket close frame holds at most 123 bytes of reason.
MAX_CLOSE_REASON_BYTES = 123


def close_reason(reason: str) -> str:
    """`reason` as a close frame can carry it: valid UTF-8, at most 123 bytes. Strawberry puts client text in
    some reasons (an unknown message type, a duplicate id); a lone surrogate there failed to encode and the socket
    dropped with a traceback instead of closing with its code."""
    encoded = reason.encode("utf-8", "replace")[:MAX_CLOSE_REASON_BYTES]
    return encoded.decode("utf-8", "ignore")


def _closed_already(error: RuntimeError) -> bool:
    """Whether `error` says the socket was closed before: by uvicorn itself, on a frame it cannot take (a text
    frame that is not UTF-8: 1007), or by Starlette's side (an earlier close of ours, say an operation's syntax
    error closing with 4400 after another message already had)."""
    return isinstance(error, StarletteDisconnected) or "after sending 'websocket.close'" in str(error)


class WebSocketAdapter(ASGIWebSocketAdapter):
    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await super().send_json(message)
        except RuntimeError as error:
            if not _closed_already(error):
                raise
            raise WebSocketDisconnected from error  # the client is gone, as the handlers already expect

    async def close(self, code: int, reason: str) -> None:
        # Closing a closed socket changes nothing; it raised from an operation's task (a stack trace in the log).
        try:
            await super().close(code, close_reason(reason))
        except RuntimeError as error:
            if not _closed_already(error):
                raise


class NestedTooDeeply(json.JSONDecodeError):
    """A JSON text nested too deeply to parse; a JSONDecodeError, so the WebSocket handlers treat it as one."""


class PersistreamGraphQL(GraphQL[dict[str, Any], None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler
    websocket_adapter_class = WebSocketAdapter

    def __init__(
        self,
        chat: ChatService,
        allowed_origins: tuple[str, ...],
        *,
        authenticator: Authenticator | None = None,
        auth_mode: str = "none",
        schema: strawberry.Schema | None = None,
        graphiql: bool = True,
        max_subscriptions: int = 100,
        **kwargs: Any,
    ) -> None:
        if schema is None:
            from persistream.schema import schema as default_schema

            schema = default_schema
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allowed_origins=allowed_origins,
            subscription_protocols=SUBSCRIPTION_PROTOCOLS,
            keep_alive=True,
            keep_alive_interval=15,
            connection_init_wait_timeout=timedelta(seconds=CONNECTION_INIT_TIMEOUT),
            # Operations in flight on one socket (queries too, while they run); the handlers refuse one more with
            # RATE_LIMITED and keep the socket.
            max_subscriptions_per_connection=max_subscriptions,
            **kwargs,
        )
        self.chat = chat
        self.authenticator: Authenticator = authenticator or LocalAuthenticator()
        self.auth_mode = auth_mode

    def is_websocket_origin_allowed(self, request: WebSocket, origin: str) -> bool:
        # As over HTTP (origins.py): `null` is nobody's page in particular, so it is never an allowed origin.
        return origin.strip().lower() != "null" and super().is_websocket_origin_allowed(request, origin)

    def encode_json(self, data: object) -> str | bytes:
        # A WebSocket `next` (graphql-transport-ws) or `data` (graphql-ws) frame whose payload is a result shared
        # by many subscribers: splice its JSON, encoded once, between this frame's own id and type. The bytes are
        # what the plain encoding would give.
        if type(data) is dict and data.get("type") in ("next", "data") and "payload" in data:
            payload = shared_payload_json(data["payload"])
            if payload is not None:
                parts = [
                    json.dumps(key) + ":" + (payload if key == "payload" else json.dumps(value, separators=(",", ":")))
                    for key, value in data.items()
                ]
                return "{" + ",".join(parts) + "}"
        return super().encode_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        # An HTTP body must be a request object (or a list, which Strawberry refuses as a batch): Strawberry reads
        # a JSON string, number or null with `.get` and answers a 500 with a traceback in the log.
        parsed = super().parse_json(data)
        if not isinstance(parsed, (dict, list)):
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data)
        except RecursionError:
            # Nested too deeply for the parser (thousands of `[`): bad input, not a server error with a traceback.
            raise NestedTooDeeply("nested too deeply", "", 0) from None

    async def run(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, WebSocket):
            # Where its subscriptions note what they follow; uvicorn's protocol finds it in the scope at shutdown.
            request.scope[CONNECTION_KEY] = Connection()
        try:
            return await super().run(request, *args, **kwargs)
        except HTTPException as exc:
            # Over HTTP Strawberry turns the decode error into a plain-text 400; the contract wants a GraphQL
            # error. (Over WebSocket a message that does not parse is a protocol error, handled as such.)
            if not isinstance(exc.__cause__, NestedTooDeeply):
                raise
            return JSONResponse(
                {
                    "errors": [
                        {"message": "The request body is nested too deeply.", "extensions": {"code": "BAD_USER_INPUT"}}
                    ]
                },
                status_code=400,
            )

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> dict[str, Any]:
        # Once per HTTP request, and once per WebSocket at the upgrade (on_ws_connect may refine it). A bad
        # credential is kept, not raised, so it surfaces as UNAUTHENTICATED on the operation (HTTP 200 with errors,
        # as GraphQL-over-HTTP clients expect) instead of a transport failure.
        context: dict[str, Any] = {"request": request, "response": response, "chat": self.chat}
        context["auth_mode"] = self.auth_mode
        if isinstance(request, WebSocket):
            context["connection"] = request.scope.get(CONNECTION_KEY)
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
