"""persistream's GraphQL operations, for an app's own Strawberry schema: everything an app needs to serve them
beside its own fields, from this one module.

    from strawberry.tools import merge_types
    from persistream.schema import public as chat

    Query = merge_types("Query", (MyQuery, chat.Query))
    schema = chat.build_schema(query=Query, mutation=chat.Mutation, subscription=chat.Subscription)

    # in the app's GraphQL view, for each request and each WebSocket:
    async def get_context(self, request, response):
        return chat.context_for(services, my_login(request))

- `Query`, `Mutation`, `Subscription`: persistream's root types, to merge with the app's (`merge_types`); the other
  types are here too, for annotations.
- `build_schema(...)`: a Strawberry schema (`Schema`, a `strawberry.Schema`) with the `ErrorCodes` extension and
  persistream's document caches. A plain `strawberry.Schema(..., extensions=[ErrorCodes])` gives the same codes, but
  Strawberry's own logger then writes each error's traceback (`Schema` leaves the logging to `ErrorCodes`).
- `ErrorCodes`: every error gets `extensions.code`; an unexpected exception becomes INTERNAL_SERVER_ERROR with a
  fixed message, logged on one line. A `GraphQLError` raised with an `extensions.code` keeps its code and words.
- `context_for(source, identity)`: the context persistream's resolvers read (`Context`): the chat service and the
  caller, as the app's own login decided (`None` is nobody: share reads only). Subclass `Context` (a keyword-only
  dataclass) to carry the app's own fields.
Ownership, sharing and limits are the chat service's, so they hold in the app's schema as in persistream's.
"""

from __future__ import annotations

from typing import Protocol

from persistream.chat.identity import Identity
from persistream.chat.service import ChatService
from persistream.chat.services import Services, build_services
from persistream.engine.events import StreamStatus
from persistream.errors import Unauthenticated
from persistream.resolvers.context import Context
from persistream.resolvers.execution import PersistreamSchema as Schema
from persistream.schema import build_schema
from persistream.schema.errors import ErrorCodes
from persistream.schema.parts import Part, PartDelta, PartKind, Usage
from persistream.schema.types import (
    Message,
    Mutation,
    Query,
    StreamBody,
    StreamEvent,
    Subscription,
    Thread,
    ThreadShare,
    Viewer,
)


class _State(Protocol):
    services: Services


class HasServices(Protocol):
    """A persistream app (`persistream.web.create_app(...)`): its running services are `app.state.services`."""

    @property
    def state(self) -> _State: ...


def chat_service(source: ChatService | Services | HasServices) -> ChatService:
    """The chat service of services the app built (`build_services`) or of a persistream app (`create_app`)."""
    if isinstance(source, ChatService):
        return source
    if isinstance(source, Services):
        return source.chat
    return source.state.services.chat


def context_for(
    source: ChatService | Services | HasServices,
    identity: Identity | str | None,
    *,
    auth_mode: str | None = None,
    refused: str | None = None,
) -> Context:
    """The context for one request or one WebSocket. `identity` is the caller as the app's login decided (an
    `Identity` or its id: the owner of the threads it starts), or None for a caller with no credential, who may
    only read share links. `refused`: the caller brought a credential the app's login refused; every operation
    then answers UNAUTHENTICATED with these words. `auth_mode` is what `viewer { authMode }` says (by default the
    settings' PERSISTREAM_AUTH when `source` has settings, else `none`)."""
    if auth_mode is None:
        auth_mode = _settings_mode(source)
    caller = Identity(identity) if isinstance(identity, str) else identity
    return Context(
        chat=chat_service(source),
        auth_mode=auth_mode,
        identity=None if refused is not None else caller,
        auth_error=Unauthenticated(refused) if refused is not None else None,
    )


def _settings_mode(source: ChatService | Services | HasServices) -> str:
    if isinstance(source, ChatService):
        return "none"
    services = source if isinstance(source, Services) else source.state.services
    return services.settings.auth_mode


__all__ = [
    "ChatService",
    "Context",
    "ErrorCodes",
    "HasServices",
    "Identity",
    "Message",
    "Mutation",
    "Part",
    "PartDelta",
    "PartKind",
    "Query",
    "Schema",
    "Services",
    "StreamBody",
    "StreamEvent",
    "StreamStatus",
    "Subscription",
    "Thread",
    "ThreadShare",
    "Usage",
    "Viewer",
    "build_schema",
    "build_services",
    "chat_service",
    "context_for",
]
