"""Following a stream from an offset (of its TEXT) or a position (in its whole log, `engine/cursor.py`): subscribe
to the stream's feed first, then read what is persisted, then take the feed's steps, de-duplicated by sequence
number and sliced by place (`engine/log.py`).

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
from persistream.db.streams import StreamSnapshot
from persistream.engine.cursor import START, UNPLACED, Position
from persistream.engine.events import PartDelta, StreamEvent, StreamStatus
from persistream.engine.feed import READ_RETRY, Feeds, Step
from persistream.engine.log import LogReader, head_of, make_event, usage_of
from persistream.errors import BadInput, NotFound
from persistream.parts import PartKind

log = logging.getLogger("persistream.observer")


class _Place:
    """Where the observer stands (its `LogReader`: TEXT offset, place in the log, last chunk applied), and the status
    it last reported."""

    def __init__(self, stream_id: str, reader: LogReader, snapshot: StreamSnapshot) -> None:
        self.stream_id = stream_id
        self.reader = reader
        self.reader.last_seq = snapshot.stream.last_seq
        self.status = StreamStatus(snapshot.stream.status)
        self.error = snapshot.stream.error
        self.usage = usage_of(snapshot.stream)
        self.stored_length = snapshot.stream.length

    def take_snapshot(self, snapshot: StreamSnapshot) -> tuple[str, list[PartDelta]]:
        last_seq = self.reader.last_seq
        text, deltas = self.reader.take_all(c for c in snapshot.chunks if c.seq > last_seq)
        self.reader.last_seq = max(self.reader.last_seq, snapshot.stream.last_seq)
        self.stored_length = snapshot.stream.length
        self.usage = usage_of(snapshot.stream)
        self._take_status(StreamStatus(snapshot.stream.status), snapshot.stream.error)
        return text, deltas

    def follows(self, step: Step) -> bool:
        """Take `step` whole when the observer stands exactly where the feed stood before it (every caught-up
        observer, every step): its event is then exactly what `take_step` and `event` would make of it, with no
        slicing or event of the observer's own. False, having taken nothing, when it stands anywhere else or the
        event would say otherwise (a status or usage the observer knows better)."""
        reader, event = self.reader, step.event
        if step.before is None or step.after is None or step.first_seq != reader.last_seq + 1:
            return False
        if step.before != (reader.offset, reader.position):
            return False
        status = event.status if event.status.is_final or self.status == StreamStatus.PENDING else self.status
        if status != event.status or (status.is_final and event.usage is None and self.usage is not None):
            return False
        if step.last_seq > reader.last_seq:
            reader.offset, reader.position, reader.last_seq = event.offset, step.after, step.last_seq
            self.stored_length = event.offset
        if event.usage is not None:
            self.usage = event.usage
        self._take_status(event.status, event.error)
        return True

    def take_step(self, step: Step) -> tuple[str, list[PartDelta]] | None:
        """What `step` adds beyond where the observer stands, or None when it leaves a gap (read the database)."""
        if step.first_seq > self.reader.last_seq + 1:
            return None
        text, deltas = "", list[PartDelta]()
        if step.last_seq > self.reader.last_seq:
            text, deltas = self.reader.take_all(c for c in step.chunks if c.seq > self.reader.last_seq)
            self.reader.last_seq = max(self.reader.last_seq, step.last_seq)
            self.stored_length = step.event.offset
        if step.event.usage is not None:
            self.usage = step.event.usage
        self._take_status(step.event.status, step.event.error)
        return text, deltas

    def _take_status(self, status: StreamStatus, error: str | None) -> None:
        # Statuses only move forward: a step older than the observer's snapshot never takes one back.
        if status.is_final or self.status == StreamStatus.PENDING:
            self.status = status
            self.error = error if status.is_final else None

    def event(self, delta: str, deltas: list[PartDelta], shared: StreamEvent | None) -> StreamEvent:
        """The event to yield; the feed's own object when it says exactly that, so it is rendered once."""
        reader = self.reader
        if self.status.is_final:
            # Ended shorter than where the observer stands: report the final length so it can cut its copy.
            reader.offset = min(reader.offset, self.stored_length)
        final = self.status.is_final
        event = make_event(
            self.stream_id,
            delta,
            reader.offset,
            self.status,
            self.error if final else None,
            deltas,
            reader.end,
            self.usage if final else None,
        )
        return shared if shared is not None and shared == event else event


async def observe(
    db: Database,
    feeds: Feeds,
    stream_id: str,
    from_offset: int = 0,
    from_position: Position | None = None,
    from_text: int | None = None,
) -> AsyncIterator[StreamEvent]:
    if from_position == UNPLACED:
        # A reader that was still waiting for a TEXT offset: it resumes by that offset.
        from_offset, from_position = from_text or 0, None
    if from_offset < 0:
        raise BadInput("fromOffset must be zero or more")
    with feeds.subscribe(stream_id) as subscription:
        if from_position is not None:
            reader = LogReader(0, from_position)
            snapshot = await streams.read_after_position(db, stream_id, from_position.part, from_position.offset)
        else:
            reader = LogReader(from_offset, START if from_offset == 0 else None)
            snapshot = await streams.read_after_offset(db, stream_id, from_offset)
        if snapshot is None:
            raise NotFound("No stream with that id.")
        if from_position is not None:
            # The TEXT offset at that place: the stored TEXT before the first chunk read (or all of it).
            reader.offset = _text_before(snapshot, from_position, from_text)
        place = _Place(stream_id, reader, snapshot)
        first, deltas = reader.take_all(snapshot.chunks)
        if snapshot.stream.length >= reader.offset or place.status.is_final:
            # Past the stored text on a final stream: it ended shorter than where the observer stands.
            reader.offset = snapshot.stream.length
        yield place.event(first, deltas, None)
        if place.status.is_final:
            return

        must_read = False
        while True:
            # A timer only while a read of its own has failed (the database is away): retry it soon.
            steps, overflowed = await subscription.next(READ_RETRY if must_read else None)
            must_read |= overflowed
            for step in steps:
                reported = place.status
                if step.deleted:  # deleted while observed: it was cancelled first
                    place.status = StreamStatus.CANCELLED
                    yield place.event("", [], step.event)
                    return
                if place.follows(step):
                    if step.adds or place.status != reported:
                        yield step.event
                    if place.status.is_final:
                        return
                    continue
                taken = place.take_step(step)
                if taken is None:
                    must_read = True
                    break
                delta, deltas = taken
                if deltas or place.status != reported:
                    yield place.event(delta, deltas, step.event)
                if place.status.is_final:
                    return
            if must_read:
                metrics.OBSERVER_DATABASE_READS.inc()
                reported = place.status
                try:
                    fresh = await streams.read_after_seq(db, stream_id, place.reader.last_seq)
                except Exception as exc:
                    log.debug("stream %s: observer read failed (%s); retrying", stream_id, type(exc).__name__)
                    continue
                must_read = False
                if fresh is None:
                    place.status = StreamStatus.CANCELLED
                    yield place.event("", [], None)
                    return
                delta, deltas = place.take_snapshot(fresh)
                if deltas or place.status != reported:
                    yield place.event(delta, deltas, None)
                if place.status.is_final:
                    return


def _text_before(snapshot: StreamSnapshot, position: Position, text: int | None) -> int:
    """The TEXT code points before `position`, from the chunks read after it; with none stored after it, the TEXT
    the reader had there (`text`: more than is stored when it was shown text that was never stored), else all."""
    if not snapshot.chunks:
        return snapshot.stream.length if text is None else text
    first = snapshot.chunks[0]
    if head_of(first).kind is not PartKind.TEXT:
        return first.end_offset
    start = first.part_end - len(first.text)
    into = max(0, position.offset - start) if first.part == position.part else 0
    return first.end_offset - len(first.text) + into
