"""persistream inside another Starlette or FastAPI app: `lifespan(chat_app)`, entered from the host app's own
lifespan, runs persistream's startup and shutdown.

A host that mounts the app (`host.mount("/chat", create_app(settings))`) serves every route under the prefix, but
Starlette never runs a mounted app's lifespan: without this, the database is never prepared (the embedded SQLite
is not migrated), the hub never connects and no request can work. The start here is the app's own lifespan, the
same one `serve` runs: the schema prepared (SQLite migrated, PostgreSQL checked), the hub, engine and sweeper
started; the shutdown lets live answers finish within PERSISTREAM_SHUTDOWN_GRACE and stops them in order.

It yields persistream's lifespan state. The host may yield it on as part of its own (uvicorn then hands it to every
connection), but need not: the WebSocket closes of a graceful shutdown find the drain on their own scope.

A host that forgets the call gets `StartGuard`'s 503 and one log line saying what to do, not a database error.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from persistream.web.paths import route_path
from persistream.web.refusal import refuse

log = logging.getLogger("persistream.web")

NOT_STARTED = "persistream has not started (the server log says why)."
NOT_STARTED_LOG = (
    "persistream was asked for %s before its lifespan ran: an app that mounts persistream must enter "
    "persistream.web.lifespan(app) in its own lifespan"
)


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


@dataclass
class Lifecycle:
    """Whether the app's lifespan has started its services (and not yet begun to stop them)."""

    running: bool = False
    warned: bool = False


class StartGuard:
    """Before the lifespan has started the services, every request that needs them is refused with 503."""

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lifecycle.running or scope["type"] not in ("http", "websocket") or not _needs_services(scope):
            await self.app(scope, receive, send)
            return
        if not self.lifecycle.warned:
            self.lifecycle.warned = True
            log.error(NOT_STARTED_LOG, route_path(scope) or "/")
        await refuse(scope, receive, send, 503, NOT_STARTED, "INTERNAL_SERVER_ERROR")


def _needs_services(scope: Scope) -> bool:
    """Everything but the static files and GraphiQL's page (a browser GET of /graphql), which are only files."""
    path = route_path(scope)
    if path.startswith("/static/"):
        return False
    if path == "/graphql" and scope["type"] == "http" and scope["method"] == "GET":
        accept = b",".join(value for key, value in scope["headers"] if key == b"accept")
        return b"text/html" not in accept
    return True
