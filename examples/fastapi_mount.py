"""persistream inside a FastAPI app of your own, under /chat: the chat page at /chat/, GraphQL (HTTP, WebSocket,
SSE, multipart) and GraphiQL at /chat/graphql, /chat/healthz and /chat/metrics; the app's own routes untouched.

    uvicorn examples.fastapi_mount:app --ws persistream.web.shutdown:DrainingWebSockets

Settings come from the environment as for `persistream serve` (PERSISTREAM_DATABASE_URL, OPENAI_API_KEY, ...).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import persistream.web
from persistream.config import Settings

chat = persistream.web.create_app(Settings.from_env())


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # persistream's startup and shutdown, inside the app's own: a mounted app's lifespan does not run by itself.
    async with persistream.web.lifespan(chat):
        yield


app = FastAPI(lifespan=lifespan)
app.mount("/chat", chat)


@app.get("/")
async def home() -> dict[str, str]:
    return {"app": "mine", "chat": "/chat/"}
