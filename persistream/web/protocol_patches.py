"""Fixes to Strawberry's WebSocket protocol handlers (graphql-transport-ws, graphql-ws) and its socket adapter.

Each override below answers one thing Strawberry does by default that breaks the contract or the logs: a message
of the wrong shape crashing the connection, a limit refused without the contract's code, a client leaving
mid-send logged as a server failure, a close reason the frame cannot carry. Everything else is Strawberry's own
behaviour, untouched. The view (graphql_view.py) plugs these classes in; nothing else uses them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any, Literal

from graphql import GraphQLError, GraphQLSyntaxError
from starlette.websockets import WebSocketDisconnect
from starlette.websockets import WebSocketDisconnected as StarletteDisconnected
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from persistream import metrics
from persistream.resolvers.direct import FrameSink, current_sink
from persistream.web.context import WebContext

# How long a client may wait before its first message: the same for both protocols.
CONNECTION_INIT_TIMEOUT = 10.0
TOO_MANY_SUBSCRIPTIONS = "Too many subscriptions open on this connection; complete one first."
# A WebSocket close frame holds at most 123 bytes of reason.
MAX_CLOSE_REASON_BYTES = 123


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


def _over_limit(acknowledged: bool, limit: int | None, op_id: str, running: Mapping[str, object]) -> bool:
    """Whether a new operation `op_id` would pass the per-connection limit. Strawberry's own check refuses it
    with an error that has no code; the contract's is RATE_LIMITED, so ours runs first. An id already running is
    left to Strawberry (it replaces or refuses the duplicate as each protocol says)."""
    return acknowledged and limit is not None and op_id not in running and len(running) >= limit


def _too_many_subscriptions() -> dict[str, Any]:
    metrics.LIMITS_HIT.labels("subscriptions_per_connection").inc()
    # A hint: a slot frees when one of the client's own operations ends.
    return {"message": TOO_MANY_SUBSCRIPTIONS, "extensions": {"code": "RATE_LIMITED", "retryAfter": 1}}


def _is_token_limit(error: GraphQLError) -> bool:
    return isinstance(error, GraphQLSyntaxError) and "Document contains more than" in error.message


class TransportWSHandler(BaseGraphQLTransportWSHandler[WebContext, None]):
    """graphql-transport-ws."""

    async def handle_message(self, message: Any) -> None:
        # Strawberry indexes into the message as it comes (see _shape_error); a malformed one is a protocol error.
        if (error := _shape_error(message)) is not None:
            await self.handle_invalid_message(error)  # closes with 4400, as the protocol says
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: Any) -> None:
        # Finished operations (a query sent over the socket) leave `operations`, so they stop counting when they end.
        if _over_limit(
            self.connection_acknowledged, self.max_subscriptions_per_connection, message["id"], self.operations
        ):
            await self.websocket.send_json(
                {"id": message["id"], "type": "error", "payload": [_too_many_subscriptions()]}
            )
            return
        # The operation's task, made inside, inherits where its frames may go directly (resolvers/direct.py).
        token = current_sink.set(_sink(self.websocket, message["id"], "next"))
        try:
            await super().handle_subscribe(message)
        finally:
            current_sink.reset(token)

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        # Strawberry closes the socket (4400) on any syntax error, and a document over PERSISTREAM_MAX_QUERY_TOKENS
        # is reported as one. It is a document limit: an error for that operation only, as for the other limits.
        if _is_token_limit(error):
            return None
        return BaseGraphQLTransportWSHandler._get_pre_execution_close_reason(error)

    async def handle_task_exception(self, error: Exception) -> None:
        # A client that leaves while an event is being sent to it is normal (a closed tab), not a server error:
        # Strawberry would log it with a stack trace.
        if not isinstance(error, WebSocketDisconnected):
            await super().handle_task_exception(error)


class LegacyWSHandler(BaseGraphQLWSHandler[WebContext, None]):
    """graphql-ws, the legacy subscriptions-transport-ws protocol."""

    async def handle(self) -> None:
        # The legacy protocol has no connection_init timeout of its own, and Strawberry adds none: a socket that
        # never says hello would be held open forever. Close it as graphql-transport-ws does (4408).
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
        # As handle_subscribe above: running operations are `tasks` here.
        if _over_limit(self.connection_acknowledged, self.max_subscriptions_per_connection, message["id"], self.tasks):
            await self.websocket.send_json({"type": "error", "id": message["id"], "payload": _too_many_subscriptions()})
            return
        token = current_sink.set(_sink(self.websocket, message["id"], "data"))
        try:
            await super().handle_start(message)
        finally:
            current_sink.reset(token)

    async def handle_message(self, message: Any) -> None:
        # As over graphql-transport-ws, Strawberry would crash on a malformed message; but the legacy protocol
        # answers a bad message with an `error` and keeps the socket.
        if (error := _shape_error(message)) is not None:
            op_id = message.get("id") if isinstance(message, dict) else None
            reply: dict[str, Any] = {"type": "error", "payload": {"message": error}}
            if isinstance(op_id, str):
                reply["id"] = op_id
            await self.websocket.send_json(reply)
            return
        await super().handle_message(message)

    async def handle_async_results(self, *args: Any, **kwargs: Any) -> None:
        # A client gone mid-send: Strawberry lets WebSocketDisconnected out of the operation's task, which asyncio
        # then logs with its stack trace.
        with contextlib.suppress(WebSocketDisconnected):
            await super().handle_async_results(*args, **kwargs)


def _sink(websocket: Any, op_id: str, kind: Literal["next", "data"]) -> FrameSink | None:
    return FrameSink(websocket.send_frame, op_id, kind) if isinstance(websocket, WebSocketAdapter) else None


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
    """Strawberry's Starlette socket adapter, for a socket that may already be closed."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        # Strawberry maps only Starlette's WebSocketDisconnect to WebSocketDisconnected; sending on a socket closed
        # already raises a RuntimeError, which the handlers do not expect and log as a crash.
        if message.get("type") in ("next", "data"):
            metrics.STRAWBERRY_FRAMES.inc()
        try:
            await super().send_json(message)
        except RuntimeError as error:
            if not _closed_already(error):
                raise
            raise WebSocketDisconnected from error  # the client is gone, as the handlers already expect

    async def send_frame(self, text: str) -> bool:
        """Send a frame made already (resolvers/direct.py); False when the client is gone."""
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect:  # the transport failed under the write (Starlette's mapping of OSError)
            return False
        except RuntimeError as error:  # closed already (StarletteDisconnected is a RuntimeError)
            if not _closed_already(error):
                raise
            return False
        return True

    async def close(self, code: int, reason: str) -> None:
        # Closing a closed socket changes nothing; with Strawberry's adapter it raised from an operation's task (a
        # stack trace in the log). The reason is made to fit the frame (close_reason).
        try:
            await super().close(code, close_reason(reason))
        except RuntimeError as error:
            if not _closed_already(error):
                raise
