"""What subscribers and readers of a stream receive; plain data, no GraphQL."""

from __future__ import annotations

from dataclasses import dataclass

# The stored statuses are the ones subscribers receive: one vocabulary, kept by the database layer.
from persistream.db.status import StreamStatus

__all__ = ["StreamBody", "StreamEvent", "StreamStatus"]


@dataclass(frozen=True, slots=True)
class StreamEvent:
    stream_id: str
    delta: str
    # Length of the whole text after this event, in code points.
    offset: int
    status: StreamStatus
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StreamBody:
    stream_id: str
    text: str
    status: StreamStatus
    error: str | None = None

    @property
    def offset(self) -> int:
        return len(self.text)
