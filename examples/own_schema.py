"""An app with its own Strawberry schema and its own login, serving persistream's operations beside its own fields.

    PYTHONPATH=examples uvicorn own_schema:app

Callers prove who they are with the app's `X-Api-Key` header; persistream's threads belong to the app's user ids,
and its error codes and ownership rules hold in this schema as in persistream's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.tools import merge_types

from persistream.config import Settings
from persistream.schema import public as chat

# The app's own users; a real app looks its keys or sessions up in its own database.
API_KEYS = {"key-alice": "alice", "key-bob": "bob"}

# persistream's database, broadcast and model, configured by PERSISTREAM_* variables; started by the lifespan.
services = chat.build_services(Settings.from_env())


def login(conn: HTTPConnection) -> tuple[str | None, str | None]:
    """(user id, None) for a known key; (None, None) without one; (None, why) for a key the app refuses."""
    key = conn.headers.get("x-api-key")
    if key is None:
        return None, None
    user = API_KEYS.get(key)
    return (user, None) if user else (None, "Unknown API key.")


@strawberry.type
class AppQuery:
    @strawberry.field
    def me(self, info: strawberry.Info[chat.Context, None]) -> str:
        """The signed-in user of the app."""
        if info.context.identity is None:
            # The app's own refusals keep their code (ErrorCodes masks only unexpected exceptions).
            raise GraphQLError("Sign in first.", extensions={"code": "UNAUTHENTICATED"})
        return info.context.identity.id


class AppGraphQL(GraphQL[chat.Context, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None) -> chat.Context:
        # Once per HTTP request, and once per WebSocket (at the upgrade, whose headers carry the key).
        user, refused = login(request)
        return chat.context_for(services, user, refused=refused)


def routes(schema: strawberry.Schema) -> list[BaseRoute]:
    graphql = AppGraphQL(schema)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return [
        Route("/healthz", healthz),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
    ]


@contextlib.asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[dict[str, Any]]:
    await services.start()  # an embedded SQLite database is migrated here
    try:
        yield {}
    finally:
        await services.stop()


schema = chat.build_schema(
    query=merge_types("Query", (AppQuery, chat.Query)),
    mutation=chat.Mutation,
    subscription=chat.Subscription,
)
app = Starlette(routes=routes(schema), lifespan=lifespan)
