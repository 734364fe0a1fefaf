"""Strawberry's ASGI view: the chat service and the caller in every context, the HTTP-side fixes (bodies that
are not requests, JSON nested too deeply, shared subscription payloads encoded once) and GraphiQL served from local
assets. The fixes to the WebSocket protocol handlers are in protocol_patches.py."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)

from persistream.chat.service import ChatService
from persistream.errors import Unauthenticated
from persistream.resolvers.shared import shared_payload_json
from persistream.web.auth import Authenticator, LocalAuthenticator
from persistream.web.context import WebContext
from persistream.web.paths import base_path, page_response
from persistream.web.protocol_patches import (
    CONNECTION_INIT_TIMEOUT,
    LegacyWSHandler,
    TransportWSHandler,
    WebSocketAdapter,
)
from persistream.web.shutdown import CONNECTION_KEY, DRAIN_KEY, Connection, Drain

STATIC_DIR = Path(__file__).parent / "static"
GRAPHIQL_PAGE = STATIC_DIR / "graphiql.html"
GRAPHIQL_ASSETS = STATIC_DIR / "vendor" / "graphiql"


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


class NestedTooDeeply(json.JSONDecodeError):
    """A JSON text nested too deeply to parse; a JSONDecodeError, so the WebSocket handlers treat it as one."""


class PersistreamGraphQL(GraphQL[WebContext, None]):
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
        drain: Drain | None = None,
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
        self.drain = drain

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
            # And the drain that closes it at shutdown: the lifespan state has it too, but a host app that runs
            # this app's lifespan inside its own may not pass that state on (web/mounting.py).
            if self.drain is not None:
                request.scope[DRAIN_KEY] = self.drain
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

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> WebContext:
        # Once per HTTP request, and once per WebSocket at the upgrade (on_ws_connect may refine it). A bad
        # credential is kept, not raised, so it surfaces as UNAUTHENTICATED on the operation (HTTP 200 with errors,
        # as GraphQL-over-HTTP clients expect) instead of a transport failure.
        context = WebContext(
            request=request,
            response=response,
            chat=self.chat,
            auth_mode=self.auth_mode,
            base_path=base_path(request.scope),
        )
        if isinstance(request, WebSocket):
            context.connection = request.scope.get(CONNECTION_KEY)
        await self._identify(context, None)
        return context

    async def on_ws_connect(self, context: WebContext) -> Any:
        """At `connection_init`: a token in its payload replaces what the upgrade carried; a bad credential closes
        the socket (4403; the legacy protocol answers `connection_error` first)."""
        params = context.connection_params
        if isinstance(params, dict) and params:
            await self._identify(context, params)
        if context.auth_error is not None:
            raise ConnectionRejectionError({"message": "The credential is not valid."})
        return await super().on_ws_connect(context)

    async def _identify(self, context: WebContext, params: dict[str, Any] | None) -> None:
        try:
            context.identity = await self.authenticator.authenticate(context.request, params)
            context.auth_error = None
        except Unauthenticated as error:
            context.identity, context.auth_error = None, error

    async def render_graphql_ide(self, request: Request) -> Response:
        # The pinned local copies (installed by the setup from the npm registry) when present, else the CDN page.
        if GRAPHIQL_PAGE.is_file() and GRAPHIQL_ASSETS.is_dir():
            return page_response(GRAPHIQL_PAGE, request.scope)
        return HTMLResponse(self.graphql_ide_html)
