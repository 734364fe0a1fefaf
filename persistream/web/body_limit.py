"""HTTP request bodies past PERSISTREAM_MAX_BODY_BYTES are refused with 413 before the app reads them.
(WebSocket messages are bounded by the server itself: uvicorn's `ws_max_size` closes the socket with 1009.)"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from persistream import metrics
from persistream.web.refusal import send_refusal


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if declared and (not declared[0].isdigit() or int(declared[0]) > self.max_bytes):
            await self._refuse(send)
            return
        # Read the body here (bounded), so no byte past the limit is buffered and the app sees it whole.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                await self.app(scope, _replay([message]), send)
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], then=receive), send)

    async def _refuse(self, send: Send) -> None:
        metrics.LIMITS_HIT.labels("body_bytes").inc()
        await send_refusal(send, 413, f"The request body is larger than {self.max_bytes} bytes.", "BAD_USER_INPUT")


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:  # after the body: wait for the disconnect, as the server would
            return await then()
        return {"type": "http.disconnect"}

    return receive
