"""What the Python client returns and raises: events and bodies of a stream as the server sends them, and the two
errors (the server refused; the server could not be reached again). `persistream.client` re-exports them: import
them from there. Like the client, this module imports nothing of the server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from persistream.client_parts import Part, PartDelta, Usage, delta_from, part_from, usage_from

FINAL_STATUSES = frozenset({"DONE", "ERROR", "TIMEOUT", "CANCELLED"})


class PersistreamError(Exception):
    """The server refused an operation: `code` is the contract's `extensions.code` (NOT_FOUND, UNAUTHENTICATED...)."""

    def __init__(self, message: str, code: str | None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after

    @classmethod
    def from_errors(cls, errors: object) -> PersistreamError:
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        extensions = first.get("extensions") or {}
        retry = extensions.get("retryAfter")
        return cls(
            str(first.get("message") or "The server refused the operation."),
            extensions.get("code"),
            retry if isinstance(retry, int) else None,
        )


class ConnectionLost(Exception):
    """The server could not be reached again within the client's `give_up_after` seconds."""


@dataclass(frozen=True)
class StreamEvent:
    """One event of a subscription. `delta` and `offset` are the TEXT parts' (`offset` is the text's length in code
    points after this event; a final event whose offset is below what came before means the answer ended shorter:
    cut the text to it). `parts` is what this event appends to each part, every kind, in part order; `cursor` the
    resume point after it; `usage` is on the final event, when the model reported it."""

    stream_id: str
    delta: str
    offset: int
    status: str
    error: str | None
    parts: tuple[PartDelta, ...] = ()
    cursor: str | None = None
    usage: Usage | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class StreamBody:
    """A stream's answer as stored (`body()`, `cancel()`) or as followed to its end (`collect()`): `text` is its
    TEXT parts, `parts` every part in order, `cursor` the resume point after all of it, `usage` set once final."""

    stream_id: str
    text: str
    offset: int
    status: str
    error: str | None
    parts: tuple[Part, ...] = ()
    cursor: str | None = None
    usage: Usage | None = None


def event_from(data: dict[str, Any]) -> StreamEvent:
    return StreamEvent(
        data["streamId"],
        data["delta"],
        data["offset"],
        data["status"],
        data["error"],
        tuple(delta_from(part) for part in data.get("parts") or ()),
        data.get("cursor"),
        usage_from(data.get("usage")),
    )


def body_from(data: dict[str, Any]) -> StreamBody:
    return StreamBody(
        data["streamId"],
        data["text"],
        data["offset"],
        data["status"],
        data["error"],
        tuple(part_from(part) for part in data.get("parts") or ()),
        data.get("cursor"),
        usage_from(data.get("usage")),
    )
