"""The persistream GraphQL schema, declared: the types (types.py), the error codes (errors.py) and the Schema
assembled from them with its document limits. How operations execute (the Schema class, the parse cache, results
shared among subscribers) is `persistream.resolvers`'s, as is everything the fields do. What an app merges into its
own Strawberry schema is gathered in `public.py`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from graphql import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from persistream.resolvers.execution import DOCUMENT_CACHE_SIZE, CachedParse, PersistreamSchema
from persistream.resolvers.shared import SharedEventExecutor
from persistream.schema.errors import ErrorCodes
from persistream.schema.types import Mutation, Query, Subscription

Extension = type[SchemaExtension] | Callable[[], SchemaExtension]


def build_schema(
    *,
    query: type = Query,
    mutation: type | None = Mutation,
    subscription: type | None = Subscription,
    extensions: Sequence[Extension] = (),
    max_depth: int | None = None,
    max_aliases: int | None = None,
    max_tokens: int | None = None,
    introspection: bool = True,
    types: Sequence[type] = (),
) -> PersistreamSchema:
    """The schema, with Strawberry's own document limits when given: a document past one is refused before any
    resolver runs. Without arguments (the exported schema) nothing is limited.

    `query`, `mutation` and `subscription` default to persistream's own; an app passes its root types with
    persistream's merged in (`strawberry.tools.merge_types`), and its own `extensions` run beside the error codes."""
    # Factories: Strawberry makes each extension afresh for every operation.
    chosen: list[Extension] = [ErrorCodes, *extensions]
    if max_tokens is not None:  # a parse option, checked while parsing
        chosen.append(partial(MaxTokensLimiter, max_token_count=max_tokens))
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
        chosen.append(partial(AddValidationRules, rules))
    # Many subscribers send the same few documents: one parsed document (an AST of some KB, kept for the life of
    # each subscription) and one validation for all of them. Bounded LRUs, keyed by the text and the parse limits.
    chosen += [
        partial(CachedParse, maxsize=DOCUMENT_CACHE_SIZE),
        partial(ValidationCache, maxsize=DOCUMENT_CACHE_SIZE),
    ]
    return PersistreamSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        extensions=chosen,
        types=list(types),
        # One execution per event and distinct selection, shared by every subscriber of it (resolvers/shared.py).
        execution_context_class=SharedEventExecutor,
    )


schema = build_schema()

__all__ = ["build_schema", "schema"]
