"""create_app(settings) -> the Starlette application: routes, lifespan, and the objects they share.

Nothing connects at import or construction time; the lifespan starts the services (persistream.chat.services:
the database, the hub, the engine, the chat service) and stops them in reverse order. The web layer never touches
the database itself: health, gauges and server secrets come through the services.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from persistream.chat.services import Services, build_services
from persistream.config import Settings
from persistream.llm import ChatModel
from persistream.schema import build_schema
from persistream.web.agui import agui_routes
from persistream.web.auth import Authenticator, create_authenticator
from persistream.web.auth.anonymous import AnonymousAuthenticator, AnonymousCookies
from persistream.web.body_limit import BodyLimit
from persistream.web.graphql_view import STATIC_DIR, PersistreamGraphQL
from persistream.web.headers import SecurityHeaders
from persistream.web.hosts import HostGuard
from persistream.web.metrics_view import MetricsEndpoint, sampling
from persistream.web.mounting import Lifecycle, StartGuard
from persistream.web.origins import OriginGuard
from persistream.web.paths import page_response
from persistream.web.shutdown import DRAIN_KEY, Drain

log = logging.getLogger("persistream.web")


def create_app(
    settings: Settings,
    *,
    model: ChatModel | None = None,
    authenticate: Authenticator | None = None,
    engine: AsyncEngine | None = None,
) -> Starlette:
    """`authenticate` replaces the authenticator PERSISTREAM_AUTH picks (for apps that bring their own login);
    `engine`, an app's own SQLAlchemy `AsyncEngine`, replaces PERSISTREAM_DATABASE_URL (the app disposes of it)."""
    services = build_services(settings, model, database_engine=engine)
    authenticator = authenticate or create_authenticator(settings, services.server_secret)
    schema = build_schema(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_query_tokens,
        introspection=settings.introspection,
    )
    sampler = services.engine.metrics_sampler()
    drain = Drain(services.engine, settings.shutdown_grace)
    lifecycle = Lifecycle()
    graphql = PersistreamGraphQL(
        services.chat,
        settings.allowed_origins,
        schema=schema,
        graphiql=settings.graphiql,
        max_subscriptions=settings.max_subscriptions,
        authenticator=authenticator,
        auth_mode=settings.auth_mode,
        drain=drain,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        await services.start()
        lifecycle.running = True
        log.info(
            "persistream ready: provider=%s database=%s broadcast=%s",
            services.model.name,
            services.db.engine.dialect.name if engine is not None else _scheme(settings.database_url),
            _scheme(settings.broadcast_url),
        )
        try:
            async with sampling(sampler):
                # The drain, as lifespan state: uvicorn hands it to every connection, so a WebSocket closed at
                # shutdown can wait for its streams (web/shutdown.py).
                yield {DRAIN_KEY: drain}
                # Shutdown: the answers still being generated get their grace (a no-op if the sockets began it).
                await drain.wait()
        finally:
            lifecycle.running = False
            await services.stop()

    async def index(request: Request) -> Response:
        return page_response(STATIC_DIR / "index.html", request.scope, {"cache-control": "no-cache"})

    async def healthz(_request: Request) -> Response:
        database = "ok" if await services.engine.database_reachable() else "down"
        broadcast = "up" if services.hub.connected else "down"
        status = "ok" if database == "ok" and broadcast == "up" else "degraded"
        body = {
            "status": status,
            "database": database,
            "broadcast": broadcast,
            "generations": services.engine.live_generations,
            "observers": services.engine.feeds.subscription_count,
        }
        return JSONResponse(body, status_code=200 if database == "ok" else 503)

    # Outermost first: every response gets the security headers; a wrong host or an oversized body is refused
    # before anything else runs.
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(HostGuard, allowed_hosts=settings.hosts_allowed),
        # A host app that mounts this one and never runs its lifespan: a 503 that says so, not a database error.
        Middleware(StartGuard, lifecycle=lifecycle),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        Middleware(OriginGuard, allowed_origins=settings.allowed_origins),
    ]
    if isinstance(authenticator, AnonymousAuthenticator):
        middleware.append(Middleware(AnonymousCookies, authenticator=authenticator))
    if settings.allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allowed_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["content-type", "authorization"],
                # A page on a listed origin (a Vite app) needs its anonymous cookie on fetch, or every request is
                # a fresh identity; never with "*", which would let any site act with its visitors' cookies.
                allow_credentials="*" not in settings.allowed_origins,
            )
        )
    # PERSISTREAM_METRICS=false: no route at all, so /metrics is a plain 404.
    metrics_routes = [Route("/metrics", MetricsEndpoint(sampler, settings.metrics_multiprocess_dir).respond)]
    app = Starlette(
        routes=[
            Route("/", index),
            Route("/healthz", healthz),
            *(metrics_routes if settings.metrics else []),
            Route("/graphql", graphql, methods=["GET", "POST", "OPTIONS"]),
            WebSocketRoute("/graphql", graphql),
            *agui_routes(services.chat, authenticator),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.services = services
    return app


def _scheme(url: str) -> str:
    """The URL without credentials or host, for logs."""
    return url.split("://", 1)[0]


__all__ = ["Services", "build_services", "create_app"]
