"""The persistream GraphQL schema (types only; behaviour lives in resolvers and core)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types import ExecutionContext

from persistream.schema.errors import ErrorCodes
from persistream.schema.shared import SharedEventExecutor
from persistream.schema.types import Mutation, Query, Subscription


class PersistreamSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Strawberry logs every error with its traceback; ErrorCodes logs unexpected ones in one line instead.
        return None


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
    if max_depth is not None:
        extensions.append(partial(QueryDepthLimiter, max_depth=max_depth))
    if max_aliases is not None:
        extensions.append(partial(MaxAliasesLimiter, max_alias_count=max_aliases))
    if max_tokens is not None:
        extensions.append(partial(MaxTokensLimiter, max_token_count=max_tokens))
    if not introspection:  # refuses __schema and __type; __typename stays allowed
        extensions.append(DisableIntrospection)
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
