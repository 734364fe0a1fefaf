"""The raw relay, a baseline: a bare Starlette WebSocket endpoint that asks the test model for an answer over HTTP
and sends each token on as one text frame, with no GraphQL, no database and no SDK.

    python -m bench.relay PORT MODEL_BASE_URL

The client sends the prompt as the first frame; an empty frame ends the answer.

`/fan` is the fan-out baseline on the same footing: listeners connect and send `listen` (answered `ready`); a
control socket sends `go PROMPT`, and each token the model sends is put on every listener's queue (each listener
its own sending task, the usual shape of a broadcast) and on the control socket; then every listener is closed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from bench.server import RawFanout, serve_ws_options


def build(model_base_url: str) -> Starlette:
    client = httpx.AsyncClient(base_url=model_base_url, timeout=60, limits=httpx.Limits(max_connections=None))

    listeners = RawFanout()

    async def tokens(prompt: str) -> AsyncIterator[str]:
        body = {"model": "relay", "stream": True, "messages": [{"role": "user", "content": prompt}]}
        async with client.stream("POST", "/chat/completions", json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for choice in json.loads(line[6:]).get("choices", ()):
                    if content := (choice.get("delta") or {}).get("content"):
                        yield content

    async def relay(websocket: WebSocket) -> None:
        await websocket.accept()
        async for content in tokens(await websocket.receive_text()):
            await websocket.send_text(content)
        await websocket.send_text("")
        await websocket.close()

    async def fan(websocket: WebSocket) -> None:
        await websocket.accept()
        command, _, prompt = (await websocket.receive_text()).partition(" ")
        if command != "go":
            await listeners.listen(websocket)
            return
        async for content in tokens(prompt):
            listeners.broadcast(content)
            await websocket.send_text(content)
        listeners.broadcast(None)
        await websocket.close()

    return Starlette(routes=[WebSocketRoute("/relay", relay), WebSocketRoute("/fan", fan)])


def main() -> None:
    port, model_base_url = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(build(model_base_url), host="127.0.0.1", port=port, log_level="warning", **serve_ws_options())


if __name__ == "__main__":
    main()
