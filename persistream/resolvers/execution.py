"""How the schema runs an operation, where it differs from Strawberry's defaults: a Schema class that refuses
subscriptions on the one-result path and leaves error logging to the error-code extension, and a parse cache
that lets a bad document fail as the GraphQL error it is. `persistream.schema` assembles its Schema from these;
the per-event sharing of subscription results is in `shared.py`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from persistream.resolvers.direct import direct_frames_allowed

# Distinct documents whose parse and validation are kept (clients send the same few; the caches stay bounded).
DOCUMENT_CACHE_SIZE = 256


class PersistreamSchema(strawberry.Schema):
    @functools.cached_property
    def direct_frames(self) -> bool:
        """Whether subscription events may be written straight to their WebSocket (direct.py)."""
        return direct_frames_allowed(list(self.extensions))

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Strawberry logs every error with its traceback; ErrorCodes logs unexpected ones in one line instead.
        return None

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # `execute` gives one result: a subscription run through it (Strawberry allows one in a plain JSON POST or
        # GET) resolves its event generator as a value and fails inside, an INTERNAL_SERVER_ERROR logged as
        # unexpected. Refused here, the view answers a plain 400 that says subscriptions need another transport.
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES) - {OperationType.SUBSCRIPTION}
        return await super().execute(
            query, variable_values, context_value, root_value, operation_name, allowed, operation_extensions
        )


class CachedParse(ParserCache):
    """Strawberry's ParserCache, except that a document that does not parse (or is past the token limit) is left
    to Strawberry's own parse, which reports it as the GraphQL error it is; ParserCache would raise it from the
    hook instead."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        yield
