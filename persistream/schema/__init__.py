"""The persistream GraphQL schema (types only; behaviour lives in resolvers and core)."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from persistream.schema.errors import ErrorCodes
from persistream.schema.types import Mutation, Query, Subscription


class PersistreamSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Strawberry logs every error with its traceback; ErrorCodes logs unexpected ones in one line instead.
        return None


def build_schema() -> strawberry.Schema:
    return PersistreamSchema(query=Query, mutation=Mutation, subscription=Subscription, extensions=[ErrorCodes])


schema = build_schema()

__all__ = ["build_schema", "schema"]
