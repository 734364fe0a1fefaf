"""Following a stream from an offset: subscribe first, then read what is persisted, then de-duplicate.

Invariants for one observer:
- it registers its watcher before its first read, so no chunk published after that read can be missed;
- it applies chunks strictly in sequence (`last_seq + 1`); anything out of order, a lost message (stale
  watcher), a final status or `poll_interval` of silence sends it to the database, which is the truth;
- `offset` never decreases, except on a final event of a stream that ended shorter than where the observer
  stood (a driver resuming past text that was shown but never stored): it then reports the final length.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from persistream import metrics
from persistream.core.errors import BadInput, NotFound
from persistream.core.events import StreamEvent, StreamStatus
from persistream.core.hub import Hub, Kind, Message
from persistream.db import queries
from persistream.db.database import Database
from persistream.db.queries import StoredChunk, StreamSnapshot

log = logging.getLogger("persistream.observer")


class _Position:
    """Where the observer stands: its offset, the last chunk applied, and the status it last reported."""

    def __init__(self, offset: int, snapshot: StreamSnapshot) -> None:
        self.offset = offset
        self.last_seq = snapshot.stream.last_seq
        self.status = StreamStatus(snapshot.stream.status)
        self.error = snapshot.stream.error
        self.stored_length = snapshot.stream.length

    def take(self, seq: int, text: str, end_offset: int) -> str:
        """Apply chunk `seq` (the next one) and return the text it adds beyond the current offset."""
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
        self.status = StreamStatus(snapshot.stream.status)
        self.error = snapshot.stream.error
        return "".join(parts)


async def observe(
    db: Database, hub: Hub, stream_id: str, from_offset: int = 0, *, poll_interval: float = 1.0
) -> AsyncIterator[StreamEvent]:
    if from_offset < 0:
        raise BadInput("fromOffset must be zero or more")
    with hub.watch(stream_id) as watcher:
        snapshot = await queries.read_after_offset(db, stream_id, from_offset)
        if snapshot is None:
            raise NotFound("No stream with that id.")
        position = _Position(from_offset, snapshot)
        first = _text_after(snapshot.chunks, from_offset)
        if snapshot.stream.length >= from_offset or position.status.is_final:
            # Past the stored text on a final stream: it ended shorter than where the observer stands.
            position.offset = snapshot.stream.length
        yield StreamEvent(stream_id, first, position.offset, position.status, position.error)
        if position.status.is_final:
            return

        read_failed = False
        while True:
            messages, stale = await watcher.next(poll_interval)
            reported = position.status
            parts: list[str] = []
            must_read = stale or read_failed
            if stale:
                metrics.OBSERVER_DATABASE_READS.inc()
            for message in messages:
                must_read |= _apply(position, message, parts)
            if must_read:
                try:
                    fresh = await queries.read_after_seq(db, stream_id, position.last_seq)
                except Exception as exc:
                    # The database is away for a moment (a restart): stay subscribed and read again at the next
                    # message or poll, instead of failing every observer of every stream.
                    log.debug("stream %s: observer read failed (%s); retrying", stream_id, type(exc).__name__)
                    read_failed = True
                else:
                    read_failed = False
                    if fresh is None:  # deleted while observed: it was cancelled first
                        yield StreamEvent(stream_id, "".join(parts), position.offset, StreamStatus.CANCELLED)
                        return
                    parts.append(position.take_snapshot(fresh))
            delta = "".join(parts)
            if position.status.is_final:
                # Ended shorter than where the observer stands: report the final length so it can cut its copy.
                position.offset = min(position.offset, position.stored_length)
                yield StreamEvent(stream_id, delta, position.offset, position.status, position.error)
                return
            if delta or position.status != reported:
                yield StreamEvent(stream_id, delta, position.offset, position.status)


def _apply(position: _Position, message: Message, parts: list[str]) -> bool:
    """Apply one hub message in place; True when the database must be read (gap, no text, final, unknown)."""
    kind = message.get("k")
    if kind == Kind.CHUNK:
        seq = message.get("q")
        if not isinstance(seq, int) or seq <= position.last_seq:
            return False  # already have it
        text, end = message.get("d"), message.get("e")
        if seq != position.last_seq + 1 or not isinstance(text, str) or not isinstance(end, int):
            return True
        parts.append(position.take(seq, text, end))
        if position.status == StreamStatus.PENDING:
            position.status = StreamStatus.STREAMING
        return False
    if kind == Kind.STATUS:
        if position.status == StreamStatus.PENDING and message.get("st") == StreamStatus.STREAMING.value:
            position.status = StreamStatus.STREAMING
        return False
    # A final status (or anything unknown) is confirmed from the database with every chunk before it.
    return True


def _text_after(chunks: list[StoredChunk], offset: int) -> str:
    if not chunks:
        return ""
    start = chunks[0].end_offset - len(chunks[0].text)
    text = "".join(c.text for c in chunks)
    return text[max(0, offset - start) :]
