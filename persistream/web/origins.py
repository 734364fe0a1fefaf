"""Which browser origins may call /graphql over HTTP. (WebSocket handshakes are checked by Strawberry with the
same list.) CORS alone only hides responses from a foreign page; the request would still run, so requests from
an origin that is neither this server nor allowed are refused outright."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.http.websocket_origin import is_same_origin, normalize_origin


class OriginGuard:
    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...]) -> None:
        self.app = app
        self.allow_all = "*" in allowed_origins
        self.allowed = {n for o in allowed_origins if o != "*" and (n := normalize_origin(o))}

    def is_allowed(self, origin: str, host: str | None) -> bool:
        # `null` is a sandboxed frame, a file or a redirect: nobody can be sure whose page it is, so it is refused
        # even when every origin is allowed.
        if origin.strip().lower() == "null":
            return False
        if self.allow_all or is_same_origin(origin, host):
            return True
        normalized = normalize_origin(origin)
        return normalized is not None and normalized in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            if origin is not None and not self.is_allowed(origin, headers.get("host")):
                body = json.dumps(
                    {
                        "errors": [
                            {
                                "message": "This origin may not use this server.",
                                "extensions": {"code": "FORBIDDEN"},
                            }
                        ]
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
