"""One answer being generated: a task owned by the engine, never by a subscription.

Token path: the reader pulls a token from the source, makes it storable (`engine/storable.py`), and appends it to
the `DriverFeed` (a plain list and a wake-up: it never waits on a client) and to the chunker. Persistence runs
beside it in the persister task, which writes cut chunks in order (`engine/writer.py`) and publishes each one after
it is stored. When the database is slower than the model, pending chunks are merged into one write instead of
queueing, so the token path never waits on the database. What these parts share is one `GenerationState`; a write
that cannot be done ends persisting with the `WriteFailed` that says why.

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
from persistream.db.database import Database
from persistream.db.streams import StoredChunk
from persistream.engine.chunker import Chunker
from persistream.engine.events import StreamEvent, StreamStatus
from persistream.engine.hub import Hub
from persistream.engine.messages import Chunk, Final
from persistream.engine.storable import storable
from persistream.engine.writer import StorageError, StreamTakenAway, StreamWriter, WriteFailed
from persistream.errinfo import describe
from persistream.llm.base import ModelError

log = logging.getLogger("persistream.generation")

SourceFactory = Callable[[], Awaitable[AsyncIterator[str]]]

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


class GenerationState:
    """What the parts of one generation share: the reader (source to driver and chunker), the persister (chunks to
    the database, then the hub) and the ending (`run`'s single exit). They all run on one event loop: no lock."""

    def __init__(self) -> None:
        self.last_token_at = time.monotonic()  # the silence timeout counts from here
        # Cut chunks not stored yet: several when the database is slower than the model (merged into one write).
        self.pending: list[str] = []
        self.persist_wake = asyncio.Event()
        self.closing = False  # the reader is done: the persister stores what is pending, then returns
        self.stop = asyncio.Event()
        self.stop_outcome: tuple[StreamStatus, str | None] | None = None  # decided by the first stop request
        # What ended persisting early: StreamTakenAway (no longer ours to write) or a StorageError (ends in ERROR).
        self.write_failure: WriteFailed | None = None
        self.seq = 0  # of the last chunk stored
        self.persisted_length = 0  # code points stored

    def request_stop(self, status: StreamStatus, error: str | None) -> None:
        if self.stop_outcome is None:
            self.stop_outcome = (status, error)
        self.stop.set()


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
        self.state = GenerationState()
        self.done = asyncio.Event()
        self._source_factory = source_factory
        self._hub = hub
        self._limits = limits
        self._chunker = Chunker(limits.flush_chars, limits.flush_seconds)
        self._writer = StreamWriter(db, stream_id, generation_id, limits.db_outage_limit)
        self._meter = metrics.StreamMeter()

    def request_stop(self, status: StreamStatus, error: str | None = None) -> None:
        """Stop generating (cancel, shutdown). The first request decides the final status."""
        self.state.request_stop(status, error)

    # --- the task ------------------------------------------------------------------------------------------

    async def run(self) -> None:
        state = self.state
        reader = asyncio.create_task(self._read(), name=f"read-{self.stream_id}")
        persister = asyncio.create_task(self._persist(), name=f"persist-{self.stream_id}")
        stopper = asyncio.create_task(state.stop.wait())
        status, error = StreamStatus.DONE, None
        try:
            while True:
                silent_for = time.monotonic() - state.last_token_at
                remaining = self._limits.silence_timeout - silent_for
                if remaining <= 0:
                    seconds = _format_seconds(self._limits.silence_timeout)
                    status, error = StreamStatus.TIMEOUT, f"The model sent nothing for {seconds} seconds."
                    break
                await asyncio.wait({reader, stopper, persister}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                if state.stop.is_set():
                    status, error = state.stop_outcome or (StreamStatus.CANCELLED, None)
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
        state = self.state
        try:
            if not reader.done():
                reader.cancel()  # closes the model's stream (the source's finally runs)
            with contextlib.suppress(BaseException):
                await reader
            self._queue(self._chunker.take())
            state.closing = True
            state.persist_wake.set()
            with contextlib.suppress(BaseException):
                await persister
            if isinstance(state.write_failure, StorageError):
                status, error = StreamStatus.ERROR, state.write_failure.user_message
            if await self._store_final(status, error):
                await self._hub.publish(Final(self.stream_id, status))
                self._meter.finished(status.value)
                log.info("stream %s ended %s after %d chars", self.stream_id, status.value, state.persisted_length)
            else:
                # Someone else decided the final status (forced cancel, sweeper, deletion): report theirs.
                stored = await self._writer.stored_final()
                if stored is not None:
                    status, error = stored
                log.info("stream %s was finalized elsewhere as %s", self.stream_id, status.value)
        except Exception as exc:
            log.error("stream %s: failure while finishing: %s", self.stream_id, describe(exc))
        finally:
            self._meter.close()
            self.feed.finish(status, error, state.persisted_length)
            self.done.set()

    async def _store_final(self, status: StreamStatus, error: str | None) -> bool:
        """Store the final status, once; False when it was not ours to store or could not be (already logged)."""
        failure = self.state.write_failure
        if isinstance(failure, StreamTakenAway):
            return False
        # After a storage failure a write lost in the outage may have landed after all: the stored text is cut back
        # to where the driver was told it ends.
        stored_through = None if failure is None else (self.state.seq, self.state.persisted_length)
        try:
            await self._writer.finish(status, error, stored_through)
        except WriteFailed:
            return False
        return True

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
        state = self.state
        source = await self._source_factory()
        resumed_at = time.monotonic()
        try:
            async for raw in source:
                if not raw:
                    continue
                token = storable(raw)  # NUL and lone surrogates become U+FFFD here, before anyone sees them
                self._meter.token()
                state.last_token_at = now = time.monotonic()
                self.feed.append(token)
                was_empty = not len(self._chunker)
                ready = self._chunker.add(token, now)
                if ready:
                    state.pending.extend(ready)
                    state.persist_wake.set()
                elif was_empty:
                    state.persist_wake.set()  # a new buffer: the persister arms its flush timer
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
            self.state.pending.append(text)

    async def _persist(self) -> None:
        state = self.state
        while True:
            if not state.pending and not state.closing:
                due = self._chunker.due_at()
                timeout = None if due is None else max(0.0, due - time.monotonic())
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await state.persist_wake.wait()
                state.persist_wake.clear()
                due = self._chunker.due_at()
                if due is not None and time.monotonic() >= due:
                    self._queue(self._chunker.take())
            if state.pending:
                texts = list(state.pending)
                state.pending.clear()
                if not await self._store_chunks(texts):
                    return
            elif state.closing:
                return

    async def _store_chunks(self, texts: list[str]) -> bool:
        """Store the cut chunks waiting (several when the database was slower than the model) in one transaction.

        Through a database outage the same chunks are retried (text cut meanwhile waits in `pending` and is
        stored after them), while tokens keep reaching the driver. Past `db_outage_limit` the answer ends in ERROR
        and the driver is told at once; the final status itself is stored when the database is back.
        """
        state = self.state
        chunks: list[StoredChunk] = []
        seq, end = state.seq, state.persisted_length
        for text in texts:
            seq, end = seq + 1, end + len(text)
            chunks.append(StoredChunk(seq, text, end))
        try:
            await self._writer.append(chunks)
        except WriteFailed as failure:
            state.write_failure = failure
            if isinstance(failure, StorageError):
                self.feed.finish(StreamStatus.ERROR, failure.user_message, state.persisted_length)
                self.request_stop(StreamStatus.ERROR)
            else:  # the stream is no longer ours: whoever took it decided its final status
                self.request_stop(StreamStatus.CANCELLED)
            return False
        state.seq, state.persisted_length = seq, end
        for chunk in chunks:
            await self._hub.publish(Chunk(self.stream_id, chunk.seq, chunk.end_offset, chunk.text))
        return True


def _format_seconds(seconds: float) -> str:
    return f"{seconds:g}"
