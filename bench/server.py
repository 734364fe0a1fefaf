"""A benchmark server: persistream with a synthetic zero-delay model, plus a raw Starlette WebSocket baseline
that sends one frame per token, in one process so both are measured on the same footing.

    python -m bench.server PORT DATABASE_URL
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Sequence

import uvicorn
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from persistream.config import Settings
from persistream.llm.base import ChatMessage
from persistream.web.app import create_app

TOKEN = "tok "


def token_count(prompt: str) -> int:
    """The prompt says how many tokens to produce: 'tokens=N'."""
    for word in prompt.split():
        if word.startswith("tokens="):
            return int(word.removeprefix("tokens="))
    return 1000


class ZeroDelayModel:
    """Yields tokens as fast as it is asked: no await between them (the engine must keep the loop fair)."""

    name = "zero-delay"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        for _ in range(token_count(messages[-1].content)):
            yield TOKEN

    async def aclose(self) -> None:
        return None


async def raw_tokens(websocket: WebSocket) -> None:
    """Baseline: one text frame per token, nothing else."""
    await websocket.accept()
    count = int(await websocket.receive_text())
    for _ in range(count):
        await websocket.send_text(TOKEN)
    await websocket.send_text("")
    await websocket.close()


def main() -> None:
    port, database_url = int(sys.argv[1]), sys.argv[2]
    app = create_app(Settings(database_url=database_url), model=ZeroDelayModel())
    app.router.routes.append(WebSocketRoute("/raw", raw_tokens))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
