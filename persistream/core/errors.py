"""The engine's error hierarchy. Each error carries the contract's code; its message is fit for an end user."""

from __future__ import annotations


class PersistreamError(Exception):
    code = "INTERNAL_SERVER_ERROR"


class BadInput(PersistreamError):
    code = "BAD_USER_INPUT"


class NotFound(PersistreamError):
    code = "NOT_FOUND"
