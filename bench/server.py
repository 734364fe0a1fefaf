"""A benchmark server: persistream with a synthetic zero-delay model, plus a raw Starlette WebSocket baseline
that sends one frame per token, in one process so both are measured on the same footing.

    python -m bench.server PORT DATABASE_URL [AUTH_MODE]

AUTH_MODE is `none` (the default) or `jwt` (HS256 with `bench.server.JWT_SECRET`); limits are off in both, so
only the cost of identity itself differs.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Sequence

import uvicorn
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from persistream.config import Settings
from persistream.llm.base import ChatMessage
from persistream.web.app import create_app

TOKEN = "tok "
JWT_SECRET = "bench-secret-" + "x" * 32


def prompt_setting(prompt: str, name: str, default: float) -> float:
    """The prompt says what to produce: 'tokens=N' (how many), 'interval=S' (seconds between tokens; 0 = never wait)."""
    for word in prompt.split():
        if word.startswith(f"{name}="):
            return float(word.removeprefix(f"{name}="))
    return default


def stamp(line: int = 0) -> str:
    """A token carrying the wall-clock time it was produced, so a client on this machine can measure latency; with
    `line`, padded to that many characters and ending a line (so each token is stored and published on its own)."""
    if not line:
        return f"{time.time():.6f} "
    head = f"{time.time():.6f} "
    return head + "x" * max(0, line - len(head) - 1) + "\n"


class ZeroDelayModel:
    """Yields tokens as fast as it is asked: no await between them (the engine must keep the loop fair)."""

    name = "zero-delay"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        prompt = messages[-1].content
        count, interval = int(prompt_setting(prompt, "tokens", 1000)), prompt_setting(prompt, "interval", 0)
        line = int(prompt_setting(prompt, "line", 0))
        if not interval:
            for _ in range(count):
                yield TOKEN
            return
        for _ in range(count):  # a paced model: each token stamped with when it was produced
            await asyncio.sleep(interval)
            yield stamp(line)

    async def aclose(self) -> None:
        return None


async def raw_tokens(websocket: WebSocket) -> None:
    """Baseline: one text frame per token, nothing else."""
    await websocket.accept()
    count, _, interval = (await websocket.receive_text()).partition(" ")
    for _ in range(int(count)):
        if interval:
            await asyncio.sleep(float(interval))
            await websocket.send_text(stamp())
        else:
            await websocket.send_text(TOKEN)
    await websocket.send_text("")
    await websocket.close()


class RawFanout:
    """Baseline for fan-out: a bare Starlette endpoint that sends the same stamped lines to every listening socket
    (each socket its own queue and sending task, the usual shape of a broadcast), with nothing of GraphQL."""

    def __init__(self) -> None:
        self.listeners: set[asyncio.Queue[str | None]] = set()

    def broadcast(self, text: str | None) -> None:
        """`text` on every listener's queue; None ends them all."""
        for queue in tuple(self.listeners):
            queue.put_nowait(text)

    async def listen(self, websocket: WebSocket) -> None:
        """One listener: `ready`, then every line broadcast, until the end."""
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.listeners.add(queue)
        try:
            await websocket.send_text("ready")
            while (text := await queue.get()) is not None:
                await websocket.send_text(text)
            await websocket.close()
        finally:
            self.listeners.discard(queue)

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        command = (await websocket.receive_text()).split()
        if command[0] != "go":
            await self.listen(websocket)
            return
        # go COUNT INTERVAL LINE: broadcast, then end every listener
        count, interval, line = int(command[1]), float(command[2]), int(command[3])
        for _ in range(count):
            await asyncio.sleep(interval)
            text = stamp(line)
            self.broadcast(text)
            await websocket.send_text(text)
        self.broadcast(None)
        await websocket.close()


def serve_ws_options() -> dict[str, object]:
    """`persistream serve`'s WebSocket settings for uvicorn, where this build has them (an older build, measured
    as the "before", runs with uvicorn's defaults, as its `serve` did)."""
    from persistream import __main__ as cli

    options = getattr(cli, "uvicorn_ws_options", None)
    return dict(options()) if options is not None else {}


def main() -> None:
    port, database_url = int(sys.argv[1]), sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "none"
    settings = Settings(
        database_url=database_url,
        auth_mode=mode,
        auth_explicit=True,
        jwt_secret=JWT_SECRET if mode == "jwt" else None,
        rate_limit="off",
        max_live_streams=0,
    )
    app = create_app(settings, model=ZeroDelayModel())
    app.router.routes.append(WebSocketRoute("/raw", raw_tokens))
    app.router.routes.append(WebSocketRoute("/rawfan", RawFanout().endpoint))
    # The same WebSocket settings `persistream serve` uses, so the baseline and persistream share them.
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", **serve_ws_options())


if __name__ == "__main__":
    main()
