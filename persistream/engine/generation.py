"""One answer being generated: a task owned by the engine, never by a subscription.

Token path: the reader pulls a token from the source, makes it storable (`core/storable.py`), and appends it to
the `DriverFeed` (a plain list and a wake-up: it never waits on a client) and to the chunker. Persistence runs
beside it in the persister task, which writes cut chunks in order and publishes each one after it is stored. When
the database is slower than the model, pending chunks are merged into one write instead of queueing, so the token
path never waits on the database.

Ending: whatever stops the generation (the source ends or fails, cancel, model silence, shutdown, or the stream
being taken away) goes through `run()`'s single exit: close the source, store the buffered text, store the final
status, publish it, then tell the driver. That order means a driver that has seen the final event can read the
same text and status back from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from persistream import metrics
from persistream.db import queries
from persistream.db.database import Database, is_transient
from persistream.db.queries import StoredChunk
from persistream.engine.chunker import Chunker
from persistream.engine.events import StreamEvent, StreamStatus
from persistream.engine.hub import Hub
from persistream.engine.messages import Chunk, Final
from persistream.engine.storable import storable
from persistream.errinfo import describe
from persistream.llm.base import ModelError

log = logging.getLogger("persistream.generation")

SourceFactory = Callable[[], Awaitable[AsyncIterator[str]]]

DB_UNAVAILABLE = "The answer could not be saved: the database is unavailable."
DB_REFUSED = "The answer could not be saved: the database refused it."

# Longest a source that never suspends may run before the generation lets other tasks run.
SOURCE_TIME_SLICE = 0.002


@dataclass(frozen=True)
class GenerationLimits:
    flush_chars: int
    flush_seconds: float
    silence_timeout: float
    # How long chunk writes are retried while the database is away before the answer ends in ERROR.
    db_outage_limit: float = 30.0


class DriverFeed:
    """Everything the generation has produced, for the driver to read at its own pace (coalescing)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.length = 0
        self.status = StreamStatus.STREAMING
        self.error: str | None = None
        self.final_length = 0
        self._changed = asyncio.Event()

    def append(self, token: str) -> None:
        self._parts.append(token)
        self.length += len(token)
        self._notify()

    def finish(self, status: StreamStatus, error: str | None, final_length: int) -> None:
        self.status, self.error = status, error
        self.final_length = final_length
        self._notify()

    def _notify(self) -> None:
        # Replacing the event wakes every current reader once, without anyone having to clear it.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def events(self, stream_id: str) -> AsyncIterator[StreamEvent]:
        yield StreamEvent(stream_id, "", 0, StreamStatus.STREAMING)
        read = 0
        offset = 0
        while True:
            changed = self._changed
            final = self.status.is_final
            if read < len(self._parts):
                delta = "".join(self._parts[read:])
                read = len(self._parts)
            else:
                delta = ""
            if final:
                end = self.final_length
                if offset + len(delta) > end:  # text shown by nobody else that could not be stored
                    delta = delta[: max(0, end - offset)]
                yield StreamEvent(stream_id, delta, end, self.status, self.error)
                return
            if delta:
                offset += len(delta)
                yield StreamEvent(stream_id, delta, offset, StreamStatus.STREAMING)
            else:
                await changed.wait()


class Generation:
    def __init__(
        self,
        *,
        stream_id: str,
        generation_id: str,
        source_factory: SourceFactory,
        db: Database,
        hub: Hub,
        limits: GenerationLimits,
    ) -> None:
        self.stream_id = stream_id
        self.generation_id = generation_id
        self.feed = DriverFeed()
        self._source_factory = source_factory
        self._db = db
        self._hub = hub
        self._limits = limits
        self._chunker = Chunker(limits.flush_chars, limits.flush_seconds)
        self._pending: list[str] = []
        self._persist_wake = asyncio.Event()
        self._closing = False
        self._stop = asyncio.Event()
        self._stop_outcome: tuple[StreamStatus, str | None] | None = None
        self._lost = False  # the stream stopped being ours to write (forced final, deleted)
        self._persist_failed = False
        self._db_refused = False  # a statement was refused (not retried): the database itself is reachable
        self.persisted_length = 0
        self._seq = 0
        self.last_token_at = time.monotonic()
        self.done = asyncio.Event()
        self._meter = metrics.StreamMeter()

    def request_stop(self, status: StreamStatus, error: str | None = None) -> None:
        """Stop generating (cancel, shutdown). The first request decides the final status."""
        if self._stop_outcome is None:
            self._stop_outcome = (status, error)
        self._stop.set()

    # --- the task ------------------------------------------------------------------------------------------

    async def run(self) -> None:
        reader = asyncio.create_task(self._read(), name=f"read-{self.stream_id}")
        persister = asyncio.create_task(self._persist(), name=f"persist-{self.stream_id}")
        stopper = asyncio.create_task(self._stop.wait())
        status, error = StreamStatus.DONE, None
        try:
            while True:
                silent_for = time.monotonic() - self.last_token_at
                remaining = self._limits.silence_timeout - silent_for
                if remaining <= 0:
                    seconds = _format_seconds(self._limits.silence_timeout)
                    status, error = StreamStatus.TIMEOUT, f"The model sent nothing for {seconds} seconds."
                    break
                await asyncio.wait({reader, stopper, persister}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                if self._stop.is_set():
                    status, error = self._stop_outcome or (StreamStatus.CANCELLED, None)
                    break
                if persister.done():  # it only returns early after asking to stop; anything else is a crash
                    log.error("stream %s: persister stopped unexpectedly", self.stream_id)
                    status, error = StreamStatus.ERROR, "The answer could not be saved."
                    break
                if reader.done():
                    status, error = self._outcome_of(reader)
                    break
        except asyncio.CancelledError:
            status, error = StreamStatus.ERROR, "The server stopped before the answer was complete."
            raise
        finally:
            stopper.cancel()
            await self._finish(reader, persister, status, error)

    async def _finish(
        self,
        reader: asyncio.Task[None],
        persister: asyncio.Task[None],
        status: StreamStatus,
        error: str | None,
    ) -> None:
        try:
            if not reader.done():
                reader.cancel()  # closes the model's stream (the source's finally runs)
            with contextlib.suppress(BaseException):
                await reader
            self._queue(self._chunker.take())
            self._closing = True
            self._persist_wake.set()
            with contextlib.suppress(BaseException):
                await persister
            if self._persist_failed:
                status, error = StreamStatus.ERROR, self._persist_error()
            stored = False
            if not self._lost:
                stored = (
                    await self._retry_db(
                        lambda: queries.finish_generation(
                            self._db,
                            self.stream_id,
                            self.generation_id,
                            status.value,
                            error,
                            stored_through=(self._seq, self.persisted_length) if self._persist_failed else None,
                        )
                    )
                    is True
                )
            if stored:
                await self._hub.publish(Final(self.stream_id, status))
                self._meter.finished(status.value)
                log.info("stream %s ended %s after %d chars", self.stream_id, status.value, self.persisted_length)
            else:
                # Someone else decided the final status (forced cancel, sweeper, deletion): report theirs.
                row = await queries.get_stream(self._db, self.stream_id)
                if row is not None and row.status in queries.FINAL_STATUSES:
                    status, error = StreamStatus(row.status), row.error
                log.info("stream %s was finalized elsewhere as %s", self.stream_id, status.value)
        except Exception as exc:
            log.error("stream %s: failure while finishing: %s", self.stream_id, describe(exc))
        finally:
            self._meter.close()
            self.feed.finish(status, error, self.persisted_length)
            self.done.set()

    def _outcome_of(self, reader: asyncio.Task[None]) -> tuple[StreamStatus, str | None]:
        exc = reader.exception()
        if exc is None:
            return StreamStatus.DONE, None
        if isinstance(exc, ModelError):
            log.warning("stream %s: model error: %s", self.stream_id, exc.detail)
            return StreamStatus.ERROR, exc.user_message
        log.error("stream %s: source failed: %s", self.stream_id, describe(exc))
        return StreamStatus.ERROR, "The answer failed because of an unexpected error."

    # --- reading the source --------------------------------------------------------------------------------

    async def _read(self) -> None:
        source = await self._source_factory()
        resumed_at = time.monotonic()
        try:
            async for raw in source:
                if not raw:
                    continue
                token = storable(raw)  # NUL and lone surrogates become U+FFFD here, before anyone sees them
                self._meter.token()
                self.last_token_at = now = time.monotonic()
                self.feed.append(token)
                was_empty = not len(self._chunker)
                ready = self._chunker.add(token, now)
                if ready:
                    self._pending.extend(ready)
                    self._persist_wake.set()
                elif was_empty:
                    self._persist_wake.set()  # a new buffer: the persister arms its flush timer
                # A source that never awaits (a zero-delay model) would otherwise starve the event loop. Yielding
                # after every token would instead make the driver send one event per token (Strawberry's per-event
                # cost dominates); a short time slice lets tokens coalesce while keeping the loop fair.
                if now - resumed_at >= SOURCE_TIME_SLICE:
                    await asyncio.sleep(0)
                    resumed_at = time.monotonic()
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    # --- persisting ----------------------------------------------------------------------------------------

    def _queue(self, text: str) -> None:
        if text:
            self._pending.append(text)

    async def _persist(self) -> None:
        while True:
            if not self._pending and not self._closing:
                due = self._chunker.due_at()
                timeout = None if due is None else max(0.0, due - time.monotonic())
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._persist_wake.wait()
                self._persist_wake.clear()
                due = self._chunker.due_at()
                if due is not None and time.monotonic() >= due:
                    self._queue(self._chunker.take())
            if self._pending:
                texts = list(self._pending)
                self._pending.clear()
                if not await self._store_chunks(texts):
                    return
            elif self._closing:
                return

    async def _store_chunks(self, texts: list[str]) -> bool:
        """Store the cut chunks waiting (several when the database was slower than the model) in one transaction.

        Through a database outage the same chunks are retried (text cut meanwhile waits in `_pending` and is
        stored after them), while tokens keep reaching the driver. Past `db_outage_limit` the answer ends in ERROR
        and the driver is told at once; the final status itself is stored when the database is back.
        """
        chunks: list[StoredChunk] = []
        seq, end = self._seq, self.persisted_length
        for text in texts:
            seq, end = seq + 1, end + len(text)
            chunks.append(StoredChunk(seq, text, end))
        result = await self._retry_db(
            lambda: metrics.timed(
                metrics.CHUNK_WRITE, queries.append_chunks(self._db, self.stream_id, self.generation_id, chunks)
            )
        )
        if result is False:
            # Refused: either an earlier try stored these very chunks before its connection broke, or the stream
            # is no longer ours (cancelled by force, timed out by a sweeper, deleted).
            landed = await self._retry_db(lambda: self._landed(chunks[-1]))
            if landed is False:
                self._lost = True
                self.request_stop(StreamStatus.CANCELLED)
                return False
            result = landed
        if result is None:
            self._persist_failed = True
            self.feed.finish(StreamStatus.ERROR, self._persist_error(), self.persisted_length)
            self.request_stop(StreamStatus.ERROR)
            return False
        self._seq, self.persisted_length = seq, end
        for chunk in chunks:
            await self._hub.publish(Chunk(self.stream_id, chunk.seq, chunk.end_offset, chunk.text))
        return True

    async def _landed(self, chunk: StoredChunk) -> bool:
        """After a refused write: did an earlier try that failed in flight store this very chunk?"""
        row = await queries.get_stream(self._db, self.stream_id)
        return (
            row is not None
            and row.status == "STREAMING"
            and row.generation_id == self.generation_id
            and row.last_seq == chunk.seq
            and row.length == chunk.end_offset
        )

    def _persist_error(self) -> str:
        return DB_REFUSED if self._db_refused else DB_UNAVAILABLE

    async def _retry_db(self, operation: Callable[[], Awaitable[bool]]) -> bool | None:
        """Run a database call, retrying with backoff through a short outage; None if the database stayed away.

        Only errors a retry can cure are retried (a lost or refused connection, a timeout, a busy or restarting
        server); a refused statement (constraint, syntax, data) is as final as an outage past the limit.
        """
        deadline = time.monotonic() + self._limits.db_outage_limit
        delay = 0.05
        failures = 0
        while True:
            try:
                result = await operation()
            except Exception as exc:
                failures += 1
                remaining = deadline - time.monotonic()
                if not is_transient(exc):
                    self._db_refused = True
                    log.error("stream %s: the database refused a statement (%s)", self.stream_id, describe(exc))
                    return None
                if remaining <= 0:
                    log.error(
                        "stream %s: giving up on the database after %d tries (%s)",
                        self.stream_id,
                        failures,
                        type(exc).__name__,
                    )
                    return None
                if failures == 1:
                    log.warning("stream %s: database write failed (%s); retrying", self.stream_id, type(exc).__name__)
                metrics.DATABASE_RETRIES.inc()
                await asyncio.sleep(min(delay, remaining))  # the last try comes at the deadline
                delay = min(delay * 2, 1.0)
                continue
            if failures:
                log.info("stream %s: database reachable again after %d failed tries", self.stream_id, failures)
            return result


def _format_seconds(seconds: float) -> str:
    return f"{seconds:g}"
