"""create_app(settings) -> the Starlette application: routes, lifespan, and the objects they share.

Nothing connects at import or construction time; the lifespan opens the database, the hub and the engine, and
closes them in reverse order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from persistream.chat.limits import SendLimits
from persistream.chat.service import ChatService
from persistream.config import Settings
from persistream.db.database import Database
from persistream.engine.hub import Hub
from persistream.engine.stream_engine import StreamEngine
from persistream.llm import ChatModel, create_model
from persistream.schema import build_schema
from persistream.web.auth import Authenticator, create_authenticator
from persistream.web.auth.anonymous import AnonymousAuthenticator, AnonymousCookies
from persistream.web.body_limit import BodyLimit
from persistream.web.graphql_view import STATIC_DIR, PersistreamGraphQL
from persistream.web.headers import SecurityHeaders
from persistream.web.hosts import HostGuard
from persistream.web.metrics_view import MetricsEndpoint, live_sampler, sampling
from persistream.web.origins import OriginGuard
from persistream.web.shutdown import DRAIN_KEY, Drain

log = logging.getLogger("persistream.web")


@dataclass
class Services:
    settings: Settings
    db: Database
    hub: Hub
    engine: StreamEngine
    model: ChatModel
    chat: ChatService


def build_services(settings: Settings, model: ChatModel | None = None) -> Services:
    db = Database(settings.database_url)
    hub = Hub(settings.broadcast_url)
    engine = StreamEngine(
        db,
        hub,
        flush_chars=settings.flush_chars,
        flush_ms=settings.flush_ms,
        pending_timeout=settings.pending_timeout,
        stream_timeout=settings.stream_timeout,
        observer_poll_interval=settings.observer_poll_interval,
    )
    model = model or create_model(settings)
    limits = SendLimits(db, rate=settings.send_rate_limit, max_live=settings.live_streams_limit)
    chat = ChatService(
        engine,
        model,
        system_prompt=settings.system_prompt,
        max_prompt_chars=settings.max_prompt_chars,
        max_context_chars=settings.max_context_chars,
        limits=limits,
        retention_seconds=settings.retention_seconds,
    )
    return Services(settings, db, hub, engine, model, chat)


def create_app(
    settings: Settings, *, model: ChatModel | None = None, authenticate: Authenticator | None = None
) -> Starlette:
    """`authenticate` replaces the authenticator PERSISTREAM_AUTH picks (for apps that bring their own login)."""
    services = build_services(settings, model)
    authenticator = authenticate or create_authenticator(settings, services.db)
    schema = build_schema(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_query_tokens,
        introspection=settings.introspection,
    )
    graphql = PersistreamGraphQL(
        services.chat,
        settings.allowed_origins,
        schema=schema,
        graphiql=settings.graphiql,
        max_subscriptions=settings.max_subscriptions,
        authenticator=authenticator,
        auth_mode=settings.auth_mode,
    )

    sampler = live_sampler(services.hub, services.engine.feeds, services.db)
    drain = Drain(services.engine, settings.shutdown_grace)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # SQLite is migrated; PostgreSQL must already be at this version (SchemaNotReady says to run migrate).
        await services.db.prepare_schema()
        await services.engine.start()
        await services.chat.start()
        log.info(
            "persistream ready: provider=%s database=%s broadcast=%s",
            services.model.name,
            _scheme(settings.database_url),
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
            await services.chat.stop()
            await services.engine.stop()
            await services.model.aclose()
            await services.db.close()

    async def index(_request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    async def healthz(_request: Request) -> Response:
        database = "ok"
        try:
            async with services.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            database = "down"
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
