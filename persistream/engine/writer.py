"""Where a generation's text and final status are stored, and how a write ends when it cannot be done.

Every write is conditional on the stream still being this generation's, and is retried through a short database
outage (`persistream.retry`), up to the outage limit. A write that does not happen raises one of `WriteFailed`:
- `StreamTakenAway`: the condition matched nothing; the stream is no longer ours (cancelled by force, timed out
  by a sweeper, deleted) and someone else decided its final status;
- `StorageUnavailable`: the database stayed away past the limit;
- `StorageRefused`: the database refused a statement (a constraint, the data), which no retry can cure.
Both `StorageError`s end the answer in ERROR with their `user_message`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from persistream import metrics
from persistream.db import streams
from persistream.db.database import Database, is_transient
from persistream.db.status import FINAL_STATUSES
from persistream.db.streams import StoredChunk, TokenCounts
from persistream.engine.events import StreamStatus
from persistream.errinfo import describe
from persistream.retry import Backoff, GaveUp, Retrying

# The generation's logger: a stream's story (its writes included) reads as one, under one name operators filter on.
log = logging.getLogger("persistream.generation")

DB_UNAVAILABLE = "The answer could not be saved: the database is unavailable."
DB_REFUSED = "The answer could not be saved: the database refused it."

# Waits between tries of a write while the database is away, in seconds.
RETRY_BACKOFF = Backoff(0.05, 1.0)


class WriteFailed(Exception):
    """A write of the answer did not happen; the generation stops writing."""


class StreamTakenAway(WriteFailed):
    """The stream is no longer this generation's to write: its final status was decided elsewhere."""


class StorageError(WriteFailed):
    """The database could not store the answer; it ends in ERROR with `user_message`."""

    user_message = DB_UNAVAILABLE


class StorageUnavailable(StorageError):
    """The database stayed away past the outage limit."""


class StorageRefused(StorageError):
    """The database refused a statement (a constraint, the data): it is reachable, and a retry cannot cure it."""

    user_message = DB_REFUSED


class StreamWriter:
    """The writes of one generation of one stream, each tried through an outage of up to `outage_limit` seconds."""

    def __init__(self, db: Database, stream_id: str, generation_id: str, outage_limit: float) -> None:
        self.db = db
        self.stream_id = stream_id
        self.generation_id = generation_id
        self.outage_limit = outage_limit

    async def append(self, chunks: list[StoredChunk]) -> None:
        """Store `chunks` (in order, after the last stored one) in one transaction."""
        if await self._retry(
            lambda: metrics.timed(
                metrics.CHUNK_WRITE, streams.append_chunks(self.db, self.stream_id, self.generation_id, chunks)
            )
        ):
            return
        # Refused: either an earlier try stored these very chunks before its connection broke, or the stream is no
        # longer ours (cancelled by force, timed out by a sweeper, deleted).
        if not await self._retry(lambda: self._landed(chunks[-1])):
            raise StreamTakenAway(self.stream_id)

    async def finish(
        self,
        status: StreamStatus,
        error: str | None,
        stored_through: tuple[int, int] | None,
        tokens: TokenCounts | None = None,
    ) -> None:
        """Store the final status (and the tokens the model reported); `stored_through` (seq, length) when later
        chunks could not be stored."""
        if not await self._retry(
            lambda: streams.finish_generation(
                self.db,
                self.stream_id,
                self.generation_id,
                status.value,
                error,
                stored_through=stored_through,
                tokens=tokens,
            )
        ):
            raise StreamTakenAway(self.stream_id)

    async def stored_final(self) -> tuple[StreamStatus, str | None] | None:
        """The final status someone else stored (a forced cancel, a sweeper, a deletion); None if there is none."""
        row = await streams.get_stream(self.db, self.stream_id)
        if row is None or row.status not in FINAL_STATUSES:
            return None
        return StreamStatus(row.status), row.error

    async def _landed(self, chunk: StoredChunk) -> bool:
        """After a refused write: did an earlier try that failed in flight store this very chunk?"""
        row = await streams.get_stream(self.db, self.stream_id)
        return (
            row is not None
            and row.status == StreamStatus.STREAMING
            and row.generation_id == self.generation_id
            and row.last_seq == chunk.seq
            and row.length == chunk.end_offset
        )

    async def _retry(self, operation: Callable[[], Awaitable[bool]]) -> bool:
        """Run a conditional write (or read), retrying with backoff through a short outage; its result.

        Only errors a retry can cure are retried (a lost or refused connection, a timeout, a busy or restarting
        server); a refused statement (constraint, syntax, data) is as final as an outage past the limit.
        """
        retrying = Retrying(
            RETRY_BACKOFF,
            # The last try comes at the deadline.
            deadline=time.monotonic() + self.outage_limit,
            on_failing=self._failing,
            on_retry=lambda exc, failures: metrics.DATABASE_RETRIES.inc(),
            on_recovered=self._recovered,
        )
        try:
            return await retrying.call(operation, retry_if=is_transient)
        except GaveUp as gave_up:
            log.error(
                "stream %s: giving up on the database after %d tries (%s)",
                self.stream_id,
                gave_up.failures,
                type(gave_up.__cause__).__name__,
            )
            raise StorageUnavailable(self.stream_id) from gave_up.__cause__
        except Exception as exc:
            log.error("stream %s: the database refused a statement (%s)", self.stream_id, describe(exc))
            raise StorageRefused(self.stream_id) from exc

    def _failing(self, exc: Exception) -> None:
        log.warning("stream %s: database write failed (%s); retrying", self.stream_id, type(exc).__name__)

    def _recovered(self, failures: int, seconds: float) -> None:
        log.info("stream %s: database reachable again after %d failed tries", self.stream_id, failures)
