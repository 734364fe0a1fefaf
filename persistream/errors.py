"""The engine's error hierarchy. Each error carries the contract's code; its message is fit for an end user."""

from __future__ import annotations


class PersistreamError(Exception):
    code = "INTERNAL_SERVER_ERROR"


class BadInput(PersistreamError):
    code = "BAD_USER_INPUT"


class NotFound(PersistreamError):
    code = "NOT_FOUND"


class Unauthenticated(PersistreamError):
    code = "UNAUTHENTICATED"


class Forbidden(PersistreamError):
    code = "FORBIDDEN"


class RateLimited(PersistreamError):
    """The caller is over a limit; `retry_after` is the whole number of seconds to wait (at least 1)."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
