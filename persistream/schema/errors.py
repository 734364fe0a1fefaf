"""Every GraphQL error carries `extensions.code`; nothing unexpected reaches a client beyond a fixed message."""

from __future__ import annotations

import logging

from graphql.error import GraphQLError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import MaskErrors
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from persistream import metrics
from persistream.errinfo import describe
from persistream.errors import PersistreamError, RateLimited

log = logging.getLogger("persistream.graphql")

INTERNAL_MESSAGE = "Internal server error."
BUSY_MESSAGE = "The server is busy; try again in a moment."


def _is_document_error(error: GraphQLError) -> bool:
    # Parse and validation errors are raised by graphql-core itself and carry no original error. A variable of
    # the wrong type is reported before execution (no path) with the scalar's own GraphQLError as its original.
    # An argument's value is coerced at its field, so an invalid one (null in a nullable variable standing for a
    # non-null argument with a default, as the spec allows) arrives with a path, graphql-core's own words inside.
    original = error.original_error
    if original is None or (error.path is None and isinstance(original, GraphQLError)):
        return True
    return (
        isinstance(original, GraphQLError)
        and original.original_error is None
        and original.message.startswith("Argument '")
    )


def _raised_with_code(error: GraphQLError) -> str | None:
    """The code of a GraphQLError a resolver raised on purpose with `extensions.code` (an app's own, in a schema
    that merges persistream's operations): its code and words are meant for the client."""
    original = error.original_error
    if error.path is None or not isinstance(original, GraphQLError):
        return None
    code = (original.extensions or {}).get("code")
    return code if isinstance(code, str) and code else None


def _code_of(error: GraphQLError) -> str:
    if isinstance(error.original_error, PersistreamError):
        return error.original_error.code
    if (code := _raised_with_code(error)) is not None:
        return code
    message = error.message
    if message.startswith("Syntax Error: Document contains more than"):  # PERSISTREAM_MAX_QUERY_TOKENS
        return "GRAPHQL_VALIDATION_FAILED"
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if message.startswith(
        (
            "Variable '$",
            "Argument '",
            "Int cannot",
            "String cannot",
            "ID cannot",
            "Expected value of type",
            "Int cannot represent",
        )
    ):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED"


def _busy(error: GraphQLError) -> GraphQLError | None:
    """Every database connection of the process stayed taken for the pool's whole timeout: the process is over its
    capacity, which the client may retry shortly, as for the other capacity limits (RATE_LIMITED), not a failure."""
    if not isinstance(error.original_error, PoolTimeout):
        return None
    metrics.LIMITS_HIT.labels("database_connections").inc()
    where = ".".join(str(p) for p in error.path or ()) or "operation"
    log.warning("database connections exhausted in %s: answered RATE_LIMITED", where)
    return GraphQLError(BUSY_MESSAGE, path=error.path, extensions={"code": "RATE_LIMITED", "retryAfter": 1})


def _operation_refusal(error: GraphQLError) -> GraphQLError | None:
    """Over HTTP Strawberry answers these with a plain 400 before anything runs; on a streamed response (SSE,
    multipart) they arrive as errors of the operation: the document asks for what this request cannot do, which is
    the client's mistake to be told plainly, not an internal error."""
    original = error.original_error
    if isinstance(original, InvalidOperationTypeError):
        kind = original.operation_type.value
        message = f"A {kind} cannot be sent this way: multipart HTTP carries only subscriptions, and a GET no mutation."
    elif isinstance(original, CannotGetOperationTypeError):
        message = original.as_http_error_reason()
    elif isinstance(original, MissingQueryError):  # a plain POST answers it with a 400 of the same words
        return GraphQLError("No GraphQL query found in the request.", extensions={"code": "GRAPHQL_PARSE_FAILED"})
    else:
        return None
    return GraphQLError(message, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})


class ErrorCodes(MaskErrors):
    """Adds the contract's code to each error and masks whatever is neither ours, nor a document error, nor a
    GraphQLError raised with its own `extensions.code`: a masked error is logged on one line, with no traceback."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message=INTERNAL_MESSAGE)

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        return not (
            isinstance(error.original_error, PersistreamError)
            or _raised_with_code(error) is not None
            or _is_document_error(error)
        )

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed: list[GraphQLError] = []
        for error in errors:
            if (refusal := _operation_refusal(error) or _busy(error)) is not None:
                processed.append(refusal)
            elif self._should_mask(error):
                original = error.original_error
                # One line, no traceback: the exception type, where it was raised and a bounded message.
                log.error(
                    "unexpected error in %s: %s",
                    ".".join(str(p) for p in error.path or ()) or "operation",
                    describe(original),
                )
                masked = self.anonymise_error(error)
                masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
                processed.append(masked)
            else:
                error.extensions = {**(error.extensions or {}), "code": _code_of(error)}
                if isinstance(error.original_error, RateLimited):
                    error.extensions["retryAfter"] = error.original_error.retry_after
                processed.append(error)
        return processed
