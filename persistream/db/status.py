"""The one vocabulary of stored stream statuses: `streams.status` holds a `StreamStatus` value and nothing else.

A stream is live while PENDING or STREAMING and final after; a final status never changes. The engine re-exports
`StreamStatus` (`persistream.engine.StreamStatus`), so what readers receive and what the database stores are the
same words.
"""

from __future__ import annotations

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
        return self not in LIVE_STATUSES


LIVE_STATUSES = (StreamStatus.PENDING, StreamStatus.STREAMING)
FINAL_STATUSES = (StreamStatus.DONE, StreamStatus.ERROR, StreamStatus.TIMEOUT, StreamStatus.CANCELLED)
