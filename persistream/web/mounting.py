"""persistream inside another Starlette or FastAPI app: `lifespan(chat_app)`, entered from the host app's own
lifespan, runs persistream's startup and shutdown.

A host that mounts the app (`host.mount("/chat", create_app(settings))`) serves every route under the prefix, but
Starlette never runs a mounted app's lifespan: without this, the database is never prepared (the embedded SQLite
is not migrated), the hub never connects and no request can work. The start here is the app's own lifespan, the
same one `serve` runs: the schema prepared (SQLite migrated, PostgreSQL checked), the hub, engine and sweeper
started; the shutdown lets live answers finish within PERSISTREAM_SHUTDOWN_GRACE and stops them in order.

It yields persistream's lifespan state. The host may yield it on as part of its own (uvicorn then hands it to every
connection), but need not: the WebSocket closes of a graceful shutdown find the drain on their own scope.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    """Start the persistream `app` (made by `create_app`) on entry and stop it on exit; yields its lifespan state.

    @contextlib.asynccontextmanager
    async def host_lifespan(host: FastAPI):
        async with persistream.web.lifespan(chat):
            yield
    """
    async with app.router.lifespan_context(app) as state:
        yield dict(state or {})
