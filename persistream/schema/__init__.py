"""The persistream GraphQL schema (types only; behaviour lives in resolvers and core)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from persistream.schema.errors import ErrorCodes
from persistream.schema.shared import SharedEventExecutor
from persistream.schema.types import Mutation, Query, Subscription


class PersistreamSchema(strawberry.Schema):
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


# Distinct documents whose parse and validation are kept (clients send the same few; the caches stay bounded).
DOCUMENT_CACHE_SIZE = 256


class CachedParse(ParserCache):
    """Strawberry's ParserCache, except that a document that does not parse (or is past the token limit) is left
    to Strawberry's own parse, which reports it as the GraphQL error it is; ParserCache would raise it from the
    hook instead."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        yield


def build_schema(
    *,
    max_depth: int | None = None,
    max_aliases: int | None = None,
    max_tokens: int | None = None,
    introspection: bool = True,
) -> strawberry.Schema:
    """The schema, with Strawberry's own document limits when given: a document past one is refused before any
    resolver runs. Without arguments (the exported schema) nothing is limited."""
    # Factories: Strawberry makes each extension afresh for every operation.
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [ErrorCodes]
    if max_tokens is not None:  # a parse option, checked while parsing
        extensions.append(partial(MaxTokensLimiter, max_token_count=max_tokens))
    # Validating a document was most of what an operation cost (about 5 ms for a `streamChat` subscription on
    # this machine, so 50 drivers arriving together waited a quarter of a second on it), and the same documents
    # come again and again, so validation is cached. The limits' rules are made once, here: Strawberry's limiter
    # extensions make a new rule class for every operation (some KB each, kept for the life of a subscription),
    # and operations carrying different rule classes would all miss the cache. A document past a limit fails
    # validation, and that answer is cached too.
    rules: list[type[ASTValidationRule]] = []
    if max_depth is not None:
        rules.append(depth_rule(max_depth, None))
    if max_aliases is not None:
        rules.append(alias_rule(max_aliases))
    if not introspection:  # refuses __schema and __type; __typename stays allowed
        rules += DisableIntrospection().validation_rules
    if rules:
        extensions.append(partial(AddValidationRules, rules))
    # Many subscribers send the same few documents: one parsed document (an AST of some KB, kept for the life of
    # each subscription) and one validation for all of them. Bounded LRUs, keyed by the text and the parse limits.
    extensions += [
        partial(CachedParse, maxsize=DOCUMENT_CACHE_SIZE),
        partial(ValidationCache, maxsize=DOCUMENT_CACHE_SIZE),
    ]
    return PersistreamSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        # One execution per event and distinct selection, shared by every subscriber of it (schema/shared.py).
        execution_context_class=SharedEventExecutor,
    )


schema = build_schema()

__all__ = ["build_schema", "schema"]
