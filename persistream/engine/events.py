"""What subscribers and readers of a stream receive; plain data, no GraphQL."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class StreamStatus(StrEnum):
    PENDING = "PENDING"
    STREAMING = "STREAMING"
    DONE = "DONE"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self not in (StreamStatus.PENDING, StreamStatus.STREAMING)


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
