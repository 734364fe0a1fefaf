"""A GraphQL-shaped refusal sent straight from ASGI middleware, before any route runs."""

from __future__ import annotations

import json

from starlette.types import Send


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
