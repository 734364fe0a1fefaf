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
from persistream.db.streams import StoredChunk, TokenCounts
from persistream.engine.chunker import Chunker
from persistream.engine.cursor import START, Position
from persistream.engine.driver_feed import DriverFeed
from persistream.engine.events import TEXT_HEAD, PartDelta, PartHead, StreamStatus
from persistream.engine.hub import Hub
from persistream.engine.log import stored_chunk
from persistream.engine.messages import Chunk, Final
from persistream.engine.sources import SILENCE, UNEXPECTED, yielded
from persistream.engine.storable import storable
from persistream.engine.writer import StorageError, StreamTakenAway, StreamWriter, WriteFailed
from persistream.errinfo import describe
from persistream.llm.base import ModelError
from persistream.parts import PartEvent, PartKind, ReasoningDelta, ToolCallDelta, ToolResult, Usage

log = logging.getLogger("persistream.generation")

SourceFactory = Callable[[], Awaitable[AsyncIterator[PartEvent]]]

# Longest a source that never suspends may run before the generation lets other tasks run.
SOURCE_TIME_SLICE = 0.002


@dataclass(frozen=True)
class GenerationLimits:
    flush_chars: int
    flush_seconds: float
    silence_timeout: float
    # The silence allowed before the first delta (a reasoning model may think for minutes before it says anything).
    first_token_timeout: float = 600.0
    # How long chunk writes are retried while the database is away before the answer ends in ERROR.
    db_outage_limit: float = 30.0


class GenerationState:
    """What the parts of one generation share: the reader (source to driver and chunker), the persister (chunks to
    the database, then the hub) and the ending (`run`'s single exit). They all run on one event loop: no lock."""

    def __init__(self) -> None:
        self.last_token_at = time.monotonic()  # the silence timeout counts from here
        self.started = False  # a first delta arrived: the silence limit is the stream timeout from now on
        self.first_delta = asyncio.Event()  # set with `started`, so a wait on the longer first limit ends with it
        # Cut chunks not stored yet, each (part index, its head, text): several when the database is slower than
        # the model (merged into one write).
        self.pending: list[tuple[int, PartHead, str]] = []
        self.persist_wake = asyncio.Event()
        self.closing = False  # the reader is done: the persister stores what is pending, then returns
        self.stop = asyncio.Event()
        self.stop_outcome: tuple[StreamStatus, str | None] | None = None  # decided by the first stop request
        # What ended persisting early: StreamTakenAway (no longer ours to write) or a StorageError (ends in ERROR).
        self.write_failure: WriteFailed | None = None
        self.seq = 0  # of the last chunk stored
        self.persisted_length = 0  # TEXT code points stored
        self.persisted_position = START  # where the stored log ends
        # The part being written (-1: none yet), its head, and its code points so far (stored or not).
        self.part = -1
        self.head = TEXT_HEAD
        self.part_length = 0
        self.usage: Usage | None = None  # summed over the answer's model calls

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
        speaker: str = "source",
    ) -> None:
        self.stream_id = stream_id
        self.speaker = speaker  # what the silence message calls the source
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
        first_delta = asyncio.create_task(state.first_delta.wait())
        status, error = StreamStatus.DONE, None
        try:
            while True:
                limit = self._limits.silence_timeout if state.started else self._limits.first_token_timeout
                remaining = limit - (time.monotonic() - state.last_token_at)
                if remaining <= 0:
                    seconds = _format_seconds(limit)
                    status, error = StreamStatus.TIMEOUT, SILENCE.format(speaker=self.speaker, seconds=seconds)
                    break
                # Before the first delta the wait is on the longer first-token limit: the first delta ends it, so
                # the shorter limit between deltas applies from that delta on.
                waits = {reader, stopper, persister} if state.started else {reader, stopper, persister, first_delta}
                await asyncio.wait(waits, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
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
            first_delta.cancel()
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
            self._end_part()
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
            self.feed.finish(status, error, state.persisted_length, state.persisted_position, state.usage)
            self.done.set()

    async def _store_final(self, status: StreamStatus, error: str | None) -> bool:
        """Store the final status, once; False when it was not ours to store or could not be (already logged)."""
        failure = self.state.write_failure
        if isinstance(failure, StreamTakenAway):
            return False
        # After a storage failure a write lost in the outage may have landed after all: the stored text is cut back
        # to where the driver was told it ends.
        stored_through = None if failure is None else (self.state.seq, self.state.persisted_length)
        usage = self.state.usage
        tokens = None if usage is None else TokenCounts(usage.input_tokens, usage.output_tokens, usage.reasoning_tokens)
        try:
            await self._writer.finish(status, error, stored_through, tokens)
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
        return StreamStatus.ERROR, UNEXPECTED

    # --- reading the source --------------------------------------------------------------------------------

    async def _read(self) -> None:
        state = self.state
        source = await self._source_factory()
        resumed_at = time.monotonic()
        try:
            async for event in source:
                now = time.monotonic()
                # TEXT is a bare str: the common case, kept as short as it was before parts existed.
                if type(event) is str:
                    if not event:
                        continue
                    token = storable(event)  # NUL and lone surrogates become U+FFFD here, before anyone sees them
                    if state.part <= 0 and state.head is TEXT_HEAD:
                        state.part = 0
                        state.part_length += len(token)
                        self.feed.append(token)
                        self._chunk(token, now)
                    else:
                        self._add(TEXT_HEAD, token, now, new_part=False)
                elif not self._add_event(event, now):
                    continue
                self._meter.token()
                if not state.started:
                    state.started = True
                    state.first_delta.set()
                state.last_token_at = now
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

    def _add_event(self, event: PartEvent, now: float) -> bool:
        """A part event other than text; False when it adds nothing (empty, or usage, which is summed)."""
        if isinstance(event, ReasoningDelta):
            text = storable(event.text)
            return bool(text) and self._add(PartHead(PartKind.REASONING), text, now, new_part=False)
        if isinstance(event, ToolCallDelta):
            head = PartHead(PartKind.TOOL_CALL, storable(event.name), storable(event.call_id))
            return self._add(head, storable(event.arguments), now, new_part=False)
        if isinstance(event, ToolResult):
            head = PartHead(PartKind.TOOL_RESULT, storable(event.name), storable(event.call_id), event.is_error)
            return self._add(head, storable(event.text), now, new_part=True)
        if isinstance(event, Usage):
            state = self.state
            state.usage = event if state.usage is None else state.usage + event
            return False
        raise yielded(event)

    def _add(self, head: PartHead, text: str, now: float, *, new_part: bool) -> bool:
        """Append `text` to the current part, or start a part when the head changes; False if nothing happened."""
        state = self.state
        same = not new_part and state.part >= 0 and _continues(state.head, head)
        if same and not text:
            return False
        if not same:
            self._end_part()
            state.part, state.head, state.part_length = state.part + 1, head, 0
        state.part_length += len(text)
        self.feed.append_part(PartDelta(state.part, state.head, text))
        self._chunk(text, now)
        return True

    def _chunk(self, text: str, now: float) -> None:
        state = self.state
        was_empty = not len(self._chunker)
        ready = self._chunker.add(text, now)
        if ready:
            state.pending.extend((state.part, state.head, cut) for cut in ready)
            state.persist_wake.set()
        elif was_empty:
            state.persist_wake.set()  # a new buffer: the persister arms its flush timer

    def _end_part(self) -> None:
        """The current part is complete: its buffered text is cut, and a part that never held a character (a tool
        call without arguments) is stored as an empty chunk so that it exists for every reader."""
        state = self.state
        if state.part < 0:
            return
        cut = self._chunker.take()
        if cut or state.part_length == 0:
            state.pending.append((state.part, state.head, cut))
            state.persist_wake.set()

    # --- persisting ----------------------------------------------------------------------------------------

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
                if due is not None and time.monotonic() >= due and (cut := self._chunker.take()):
                    state.pending.append((state.part, state.head, cut))
            if state.pending:
                pieces = list(state.pending)
                state.pending.clear()
                if not await self._store_chunks(pieces):
                    return
            elif state.closing:
                return

    async def _store_chunks(self, pieces: list[tuple[int, PartHead, str]]) -> bool:
        """Store the cut chunks waiting (several when the database was slower than the model) in one transaction.

        Through a database outage the same chunks are retried (text cut meanwhile waits in `pending` and is
        stored after them), while tokens keep reaching the driver. Past `db_outage_limit` the answer ends in ERROR
        and the driver is told at once; the final status itself is stored when the database is back.
        """
        state = self.state
        chunks: list[StoredChunk] = []
        seq, end, position = state.seq, state.persisted_length, state.persisted_position
        for index, head, text in pieces:
            seq += 1
            if head.kind is PartKind.TEXT:
                end += len(text)
            part_end = (position.offset if index == position.part else 0) + len(text)
            position = Position(index, part_end)
            chunks.append(stored_chunk(seq, index, head, text, end, part_end))
        try:
            await self._writer.append(chunks)
        except WriteFailed as failure:
            state.write_failure = failure
            if isinstance(failure, StorageError):
                self.feed.finish(
                    StreamStatus.ERROR, failure.user_message, state.persisted_length, state.persisted_position
                )
                self.request_stop(StreamStatus.ERROR)
            else:  # the stream is no longer ours: whoever took it decided its final status
                self.request_stop(StreamStatus.CANCELLED)
            return False
        state.seq, state.persisted_length, state.persisted_position = seq, end, position
        for chunk in chunks:
            await self._hub.publish(Chunk.of(self.stream_id, chunk))
        return True


def _continues(current: PartHead, head: PartHead) -> bool:
    """True when `head` grows the current part: the same kind, and for a tool call the same call."""
    if current.kind is not head.kind:
        return False
    return head.kind is not PartKind.TOOL_CALL or current.tool_call_id == head.tool_call_id


def _format_seconds(seconds: float) -> str:
    return f"{seconds:g}"
