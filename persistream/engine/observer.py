"""Following a stream from an offset: subscribe to the stream's feed first, then read what is persisted, then
take the feed's steps, de-duplicated by sequence number.

Invariants for one observer:
- it subscribes to the feed (core/feed.py) before its first read, so no chunk published after that read can be
  missed;
- it applies chunks strictly in sequence (`last_seq + 1`); a step that leaves a gap after what it has, or a
  subscription that overflowed (its client reads slowly), sends it to the database, which is the truth; lost
  publishes, stale links and final statuses are the feed's to confirm, once for every observer of the stream;
- once caught up, it yields the feed's own event objects, the same for every caught-up observer;
- `offset` never decreases, except on a final event of a stream that ended shorter than where the observer
  stood (a driver resuming past text that was shown but never stored): it then reports the final length;
- it has no timer of its own while idle: a quiet stream costs its observers nothing but their place in the feed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from persistream import metrics
from persistream.db import streams
from persistream.db.database import Database
from persistream.db.streams import StoredChunk, StreamSnapshot
from persistream.engine.events import StreamEvent, StreamStatus
from persistream.engine.feed import READ_RETRY, Feeds, Step
from persistream.errors import BadInput, NotFound

log = logging.getLogger("persistream.observer")


class _Position:
    """Where the observer stands: its offset, the last chunk applied, and the status it last reported."""

    def __init__(self, stream_id: str, offset: int, snapshot: StreamSnapshot) -> None:
        self.stream_id = stream_id
        self.offset = offset
        self.last_seq = snapshot.stream.last_seq
        self.status = StreamStatus(snapshot.stream.status)
        self.error = snapshot.stream.error
        self.stored_length = snapshot.stream.length

    def take(self, seq: int, text: str, end_offset: int) -> str:
        """Apply text that ends at stored offset `end_offset` with chunk `seq`; return what it adds beyond the
        current offset."""
        self.last_seq = seq
        self.stored_length = end_offset
        if end_offset <= self.offset:
            return ""
        new = text[max(0, len(text) - (end_offset - self.offset)) :]
        self.offset = end_offset
        return new

    def take_snapshot(self, snapshot: StreamSnapshot) -> str:
        parts = [self.take(c.seq, c.text, c.end_offset) for c in snapshot.chunks if c.seq > self.last_seq]
        self.last_seq = max(self.last_seq, snapshot.stream.last_seq)
        self.stored_length = snapshot.stream.length
        self._take_status(StreamStatus(snapshot.stream.status), snapshot.stream.error)
        return "".join(parts)

    def take_step(self, step: Step) -> str | None:
        """The text `step` adds beyond the current offset, or None when it leaves a gap (read the database)."""
        if step.first_seq > self.last_seq + 1:
            return None
        new = ""
        if step.last_seq > self.last_seq:
            new = self.take(step.last_seq, step.event.delta, step.event.offset)
        self._take_status(step.event.status, step.event.error)
        return new

    def _take_status(self, status: StreamStatus, error: str | None) -> None:
        # Statuses only move forward: a step older than the observer's snapshot never takes one back.
        if status.is_final or self.status == StreamStatus.PENDING:
            self.status = status
            self.error = error if status.is_final else None

    def event(self, delta: str, shared: StreamEvent | None) -> StreamEvent:
        """The event to yield; the feed's own object when it says exactly that, so it is rendered once."""
        if self.status.is_final:
            # Ended shorter than where the observer stands: report the final length so it can cut its copy.
            self.offset = min(self.offset, self.stored_length)
        if (
            shared is not None
            and shared.delta == delta
            and shared.offset == self.offset
            and shared.status == self.status
            and shared.error == (self.error if self.status.is_final else None)
        ):
            return shared
        error = self.error if self.status.is_final else None
        return StreamEvent(self.stream_id, delta, self.offset, self.status, error)


async def observe(db: Database, feeds: Feeds, stream_id: str, from_offset: int = 0) -> AsyncIterator[StreamEvent]:
    if from_offset < 0:
        raise BadInput("fromOffset must be zero or more")
    with feeds.subscribe(stream_id) as subscription:
        snapshot = await streams.read_after_offset(db, stream_id, from_offset)
        if snapshot is None:
            raise NotFound("No stream with that id.")
        position = _Position(stream_id, from_offset, snapshot)
        first = _text_after(snapshot.chunks, from_offset)
        if snapshot.stream.length >= from_offset or position.status.is_final:
            # Past the stored text on a final stream: it ended shorter than where the observer stands.
            position.offset = snapshot.stream.length
        yield StreamEvent(stream_id, first, position.offset, position.status, position.error)
        if position.status.is_final:
            return

        must_read = False
        while True:
            # A timer only while a read of its own has failed (the database is away): retry it soon.
            steps, overflowed = await subscription.next(READ_RETRY if must_read else None)
            must_read |= overflowed
            for step in steps:
                reported = position.status
                if step.deleted:  # deleted while observed: it was cancelled first
                    position.status = StreamStatus.CANCELLED
                    yield position.event("", step.event)
                    return
                delta = position.take_step(step)
                if delta is None:
                    must_read = True
                    break
                if delta or position.status != reported:
                    yield position.event(delta, step.event)
                if position.status.is_final:
                    return
            if must_read:
                metrics.OBSERVER_DATABASE_READS.inc()
                reported = position.status
                try:
                    fresh = await streams.read_after_seq(db, stream_id, position.last_seq)
                except Exception as exc:
                    log.debug("stream %s: observer read failed (%s); retrying", stream_id, type(exc).__name__)
                    continue
                must_read = False
                if fresh is None:
                    position.status = StreamStatus.CANCELLED
                    yield position.event("", None)
                    return
                delta = position.take_snapshot(fresh)
                if delta or position.status != reported:
                    yield position.event(delta, None)
                if position.status.is_final:
                    return


def _text_after(chunks: list[StoredChunk], offset: int) -> str:
    if not chunks:
        return ""
    start = chunks[0].end_offset - len(chunks[0].text)
    text = "".join(c.text for c in chunks)
    return text[max(0, offset - start) :]
