"""A GraphQL-shaped refusal sent straight from ASGI middleware, before any route runs."""

from __future__ import annotations

import json

from starlette.types import Message, Receive, Scope, Send


async def send_refusal(send: Send, status: int, message: str, code: str) -> None:
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str, code: str) -> None:
    """Refuse an HTTP request or a WebSocket handshake with `status` and the GraphQL-shaped error."""
    if scope["type"] == "http":
        await send_refusal(send, status, message, code)
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        # The server can answer the handshake with a plain HTTP response: the same as over HTTP.
        await send_refusal(_as_websocket_response(send), status, message, code)
    else:
        await send({"type": "websocket.close", "code": 1008 if status < 500 else 1011})


def _as_websocket_response(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        await send({**message, "type": "websocket." + str(message["type"])})

    return wrapped
