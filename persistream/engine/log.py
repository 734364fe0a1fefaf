"""An answer as a log of parts, and a reader's place in it. Pure: no I/O.

The log is the stream's chunks in sequence order. Each chunk holds text of one part (`StoredChunk.part`, its head:
kind, tool name and call id, error flag) and says where it ends twice: `end_offset`, the answer's TEXT length
through it (what `offset` has always meant), and `part_end`, its own part's length through it. Parts follow each
other and only the last one grows, so a place in the log is a `Position` (part, code points into it), and a chunk's
text starts at `part_end - len(text)` whether or not its stream was compacted.

A TEXT part 0 chunk stores None in every part column (a text-only answer's rows are what they were before parts),
and an event or body that holds nothing but TEXT part 0 leaves `parts` and `position` unset (`events.py`), so the
text path builds nothing new.

`LogReader` is where one reader stands (an observer, a feed): it slices each chunk it is given to what lies past
its place, by offsets rather than sequence numbers, so a compacted chunk (the whole text of a part) that overlaps
what it has gives only the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from persistream.db.models import StreamRow
from persistream.db.streams import PartPlace, StoredChunk, StreamSnapshot
from persistream.engine.cursor import START, UNPLACED, Position
from persistream.engine.events import TEXT_HEAD, Part, PartDelta, PartHead, StreamBody, StreamEvent, StreamStatus
from persistream.parts import PartKind, Usage


def head_of(chunk: StoredChunk) -> PartHead:
    place = chunk.place
    if place is None:
        return TEXT_HEAD
    kind = PartKind(place.kind) if place.kind else PartKind.TEXT
    return PartHead(kind, place.tool_name, place.tool_call_id, bool(place.is_error))


def stored_chunk(seq: int, index: int, head: PartHead, text: str, end_offset: int, part_end: int) -> StoredChunk:
    """The row for `text` of part `index`: TEXT part 0 as a text-only answer stores it (no place)."""
    if index == 0 and head == TEXT_HEAD:
        return StoredChunk(seq, text, end_offset)
    kind = None if head.kind is PartKind.TEXT else head.kind.value
    place = PartPlace(index, kind, head.tool_name, head.tool_call_id, head.is_error or None, part_end)
    return StoredChunk(seq, text, end_offset, place)


def merge(deltas: Iterable[PartDelta]) -> tuple[PartDelta, ...]:
    """Consecutive deltas of one part as one."""
    merged: list[PartDelta] = []
    for delta in deltas:
        if merged and merged[-1].index == delta.index:
            merged[-1] = PartDelta(delta.index, delta.head, merged[-1].delta + delta.delta)
        else:
            merged.append(delta)
    return tuple(merged)


def is_text_only(parts: Sequence[PartDelta], position: Position, offset: int) -> bool:
    """True when an event says nothing that `delta` and `offset` do not: TEXT part 0 alone."""
    return position == Position(0, offset) and all(p.index == 0 and p.head == TEXT_HEAD for p in parts)


def make_event(
    stream_id: str,
    delta: str,
    offset: int,
    status: StreamStatus,
    error: str | None,
    parts: Sequence[PartDelta],
    position: Position,
    usage: Usage | None = None,
) -> StreamEvent:
    """An event, with `parts` and `position` left unset when it is all TEXT part 0 (they are then derived)."""
    if is_text_only(parts, position, offset):
        return StreamEvent(stream_id, delta, offset, status, error, usage=usage)
    return StreamEvent(stream_id, delta, offset, status, error, merge(parts), position, usage)


def parts_of(chunks: Iterable[StoredChunk]) -> tuple[Part, ...]:
    """The parts a whole answer's chunks hold, in order (chunks of one part joined)."""
    texts: dict[int, list[str]] = {}
    heads: dict[int, PartHead] = {}
    for chunk in chunks:
        index = chunk.part
        heads.setdefault(index, head_of(chunk))
        texts.setdefault(index, []).append(chunk.text)
    return tuple(Part(index, heads[index], "".join(texts[index])) for index in sorted(texts))


def text_of(parts: Iterable[Part]) -> str:
    return "".join(p.text for p in parts if p.kind is PartKind.TEXT)


def usage_of(row: StreamRow) -> Usage | None:
    """The tokens stored with a final status, or None when the model reported none."""
    counts = (row.input_tokens, row.output_tokens, row.reasoning_tokens)
    return None if counts == (None, None, None) else Usage(*counts)


def body_of(snapshot: StreamSnapshot) -> StreamBody:
    """A whole stream as stored (its snapshot read from its first chunk); `parts` unset for a text-only answer."""
    row, chunks = snapshot.stream, snapshot.chunks
    status = StreamStatus(row.status)
    if all(c.place is None for c in chunks):
        return StreamBody(row.id, "".join(c.text for c in chunks), status, row.error, usage=usage_of(row))
    parts = parts_of(chunks)
    return StreamBody(row.id, text_of(parts), status, row.error, parts, usage_of(row))


class LogReader:
    """One reader's place in a stream's log: `offset` (TEXT code points it has), `position` (its place in the
    whole log; None until a reader that asked for a TEXT offset past what it has read reaches it), `last_seq`."""

    def __init__(self, offset: int = 0, position: Position | None = START, last_seq: int = 0) -> None:
        self.offset = offset
        self.position = position
        self.last_seq = last_seq

    def take(self, chunk: StoredChunk) -> tuple[str, PartDelta | None]:
        """Apply one chunk: the TEXT it adds past this reader's place, and its part delta (None if nothing)."""
        self.last_seq = max(self.last_seq, chunk.seq)
        index, head = chunk.part, head_of(chunk)
        part_end = chunk.part_end
        part_start = part_end - len(chunk.text)
        is_text = head.kind is PartKind.TEXT
        position = self.position
        if position is None:
            # Placed by the TEXT offset it asked for: the first TEXT chunk that reaches it.
            if not is_text or chunk.end_offset < self.offset:
                return "", None
            before = len(chunk.text) - (chunk.end_offset - self.offset)
            position = self.position = Position(index, part_start + max(0, before))
        if index < position.part or (index == position.part and part_end <= position.offset):
            return "", None
        new = chunk.text[max(0, position.offset - part_start) :] if index == position.part else chunk.text
        self.position = Position(index, part_end)
        if not is_text:
            return "", PartDelta(index, head, new)
        self.offset = max(self.offset, chunk.end_offset)
        return new, PartDelta(index, head, new)

    def take_all(self, chunks: Iterable[StoredChunk]) -> tuple[str, list[PartDelta]]:
        texts: list[str] = []
        deltas: list[PartDelta] = []
        for chunk in chunks:
            text, delta = self.take(chunk)
            if text:
                texts.append(text)
            if delta is not None:
                deltas.append(delta)
        return "".join(texts), deltas

    @property
    def end(self) -> Position:
        """The resume point: where the reader stands, or `UNPLACED` while it waits for its TEXT offset (a cursor
        then resumes by that offset: (0, offset) would be wrong in an answer whose part 0 is not TEXT)."""
        return self.position if self.position is not None else UNPLACED
