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


def stamp() -> str:
    """A token carrying the wall-clock time it was produced, so a client on this machine can measure latency."""
    return f"{time.time():.6f} "


class ZeroDelayModel:
    """Yields tokens as fast as it is asked: no await between them (the engine must keep the loop fair)."""

    name = "zero-delay"

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        prompt = messages[-1].content
        count, interval = int(prompt_setting(prompt, "tokens", 1000)), prompt_setting(prompt, "interval", 0)
        if not interval:
            for _ in range(count):
                yield TOKEN
            return
        for _ in range(count):  # a paced model: each token stamped with when it was produced
            await asyncio.sleep(interval)
            yield stamp()

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
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
