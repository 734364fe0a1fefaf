"""The persistream GraphQL schema (types only; behaviour lives in resolvers and core)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from persistream.schema.errors import ErrorCodes
from persistream.schema.types import Mutation, Query, Subscription

# Distinct documents whose validation is kept (a client sends the same few; the cache stays bounded).
DOCUMENT_CACHE_SIZE = 256


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
    if max_tokens is not None:  # a parse option, checked while parsing
        extensions.append(partial(MaxTokensLimiter, max_token_count=max_tokens))
    # Validating a document was most of what an operation cost (about 5 ms for a `streamChat` subscription on
    # this machine, so 50 drivers arriving together waited a quarter of a second on it). The same documents come
    # again and again, so validation is cached, keyed by the parsed document (which compares by content; parsing
    # stays uncached, so a syntax error is reported as before). The limits' rules are made once, here: a limiter
    # extension makes a new rule class whenever it is built, and operations carrying different rules would all
    # miss the cache. A document past a limit fails validation, and that answer is cached too.
    rules: list[type[ASTValidationRule]] = []
    if max_depth is not None:
        rules += QueryDepthLimiter(max_depth=max_depth).validation_rules
    if max_aliases is not None:
        rules += MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules
    if not introspection:  # refuses __schema and __type; __typename stays allowed
        rules += DisableIntrospection().validation_rules
    if rules:
        extensions.append(partial(AddValidationRules, rules))
    extensions.append(partial(ValidationCache, maxsize=DOCUMENT_CACHE_SIZE))
    return PersistreamSchema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions)


schema = build_schema()

__all__ = ["build_schema", "schema"]
