"""What the driver reads: everything a generation has produced, at the driver's own pace.

The generation appends and never waits: a plain list and a wake-up. The driver takes everything appended since it
last looked as one event (tokens coalesce while its client is busy). TEXT of part 0, the whole of a text-only
answer, is appended as a bare `str` (nothing built per token); anything else as a `PartDelta`.

The final event ends exactly where the stored answer ends: when text was shown that could not be stored (the
database gave up), what goes past the stored end is cut from the last event, so the driver's copy equals what any
reader will read back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

from persistream.engine.cursor import START, Position
from persistream.engine.events import TEXT_HEAD, PartDelta, StreamEvent, StreamStatus
from persistream.engine.log import make_event
from persistream.parts import PartKind, Usage


class DriverFeed:
    def __init__(self) -> None:
        self._items: list[str | PartDelta] = []
        self.length = 0  # TEXT code points appended
        self.position = START  # where the appended log ends
        self._text_only = True  # nothing but TEXT part 0 so far: events need no parts
        self.status = StreamStatus.STREAMING
        self.error: str | None = None
        self.final_length = 0
        self.final_position = START
        self.usage: Usage | None = None
        self._changed = asyncio.Event()

    def append(self, token: str) -> None:
        """TEXT of part 0 (only while the answer is nothing else yet)."""
        self._items.append(token)
        self.length += len(token)
        self.position = Position(0, self.length)
        self._notify()

    def append_part(self, delta: PartDelta) -> None:
        self._items.append(delta)
        self._text_only = False
        if delta.head.kind is PartKind.TEXT:
            self.length += len(delta.delta)
        if delta.index == self.position.part:
            self.position = Position(delta.index, self.position.offset + len(delta.delta))
        else:
            self.position = Position(delta.index, len(delta.delta))
        self._notify()

    def finish(
        self,
        status: StreamStatus,
        error: str | None,
        final_length: int,
        final_position: Position,
        usage: Usage | None = None,
    ) -> None:
        self.status, self.error = status, error
        self.final_length, self.final_position = final_length, final_position
        self.usage = usage
        self._notify()

    def _notify(self) -> None:
        # Replacing the event wakes every current reader once, without anyone having to clear it.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def events(self, stream_id: str) -> AsyncIterator[StreamEvent]:
        yield StreamEvent(stream_id, "", 0, StreamStatus.STREAMING)
        read = 0
        offset = 0
        position = START
        while True:
            changed = self._changed
            final = self.status.is_final
            items = self._items[read:]
            read += len(items)
            if final:
                yield self._final_event(stream_id, items, offset, position)
                return
            if not items:
                await changed.wait()
                continue
            if self._text_only:
                delta = "".join(cast(list[str], items))  # text-only: every item is a str
                offset += len(delta)
                position = Position(0, offset)
                yield StreamEvent(stream_id, delta, offset, StreamStatus.STREAMING)
                continue
            deltas = _deltas(items)
            delta = "".join(d.delta for d in deltas if d.head.kind is PartKind.TEXT)
            offset += len(delta)
            position = _advance(position, deltas)
            yield make_event(stream_id, delta, offset, StreamStatus.STREAMING, None, deltas, position)

    def _final_event(
        self, stream_id: str, items: list[str | PartDelta], offset: int, position: Position
    ) -> StreamEvent:
        """The last event: what is left up to the stored end, with the final status."""
        kept = _trim(_deltas(items), position, self.final_position)
        delta = "".join(d.delta for d in kept if d.head.kind is PartKind.TEXT)
        end = self.final_length
        if offset + len(delta) > end:  # shown by nobody else and never stored
            delta = delta[: max(0, end - offset)]
        return make_event(stream_id, delta, end, self.status, self.error, kept, self.final_position, self.usage)


def _deltas(items: list[str | PartDelta]) -> list[PartDelta]:
    return [PartDelta(0, TEXT_HEAD, item) if isinstance(item, str) else item for item in items]


def _advance(position: Position, deltas: list[PartDelta]) -> Position:
    for delta in deltas:
        if delta.index == position.part:
            position = Position(delta.index, position.offset + len(delta.delta))
        else:
            position = Position(delta.index, len(delta.delta))
    return position


def _trim(deltas: list[PartDelta], start: Position, limit: Position) -> list[PartDelta]:
    """The deltas after `start`, cut where the stored log ends (`limit`)."""
    kept: list[PartDelta] = []
    position = start
    for delta in deltas:
        begin = position.offset if delta.index == position.part else 0
        if delta.index > limit.part:
            break
        room = limit.offset - begin if delta.index == limit.part else len(delta.delta)
        text = delta.delta[: max(0, room)]
        if text or delta.index != position.part:
            kept.append(PartDelta(delta.index, delta.head, text))
        position = Position(delta.index, begin + len(text))
    return kept
