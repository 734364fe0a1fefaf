"""What subscribers and readers of a stream receive; plain data, no GraphQL.

An answer is a log of parts (`persistream.parts`): TEXT, REASONING, TOOL_CALL, TOOL_RESULT, one after the other,
only the last one growing. `text`, `delta` and `offset` are the TEXT parts alone, as they were before parts
existed; `parts` and `position` cover the whole log. A text-only answer leaves `parts` and `position` unset
(None) and they are derived from the text when asked for: its one TEXT part 0, and position (0, offset). That keeps
the text path exactly as cheap as it was: nothing is built per token unless a reader selects it.
"""

from __future__ import annotations

from dataclasses import dataclass

from persistream.db.status import StreamStatus
from persistream.engine.cursor import Position
from persistream.parts import PartKind, Usage

__all__ = ["Part", "PartDelta", "PartHead", "StreamBody", "StreamEvent", "StreamStatus"]


@dataclass(frozen=True, slots=True)
class PartHead:
    """What never changes about a part once it has started."""

    kind: PartKind
    tool_name: str | None = None
    tool_call_id: str | None = None
    is_error: bool = False


TEXT_HEAD = PartHead(PartKind.TEXT)


class _Headed:
    """What a part's head says, read on the part or delta itself (as the GraphQL types show it)."""

    __slots__ = ()
    head: PartHead

    @property
    def kind(self) -> PartKind:
        return self.head.kind

    @property
    def tool_name(self) -> str | None:
        return self.head.tool_name

    @property
    def tool_call_id(self) -> str | None:
        return self.head.tool_call_id

    @property
    def is_error(self) -> bool:
        return self.head.is_error


@dataclass(frozen=True, slots=True)
class PartDelta(_Headed):
    """Text one event appends to part `index` (a part's first delta starts it; it may be empty)."""

    index: int
    head: PartHead
    delta: str


@dataclass(frozen=True, slots=True)
class Part(_Headed):
    """One part of an answer as stored."""

    index: int
    head: PartHead
    text: str


@dataclass(frozen=True, slots=True)
class StreamEvent:
    stream_id: str
    delta: str
    # Length of the whole TEXT after this event, in code points.
    offset: int
    status: StreamStatus
    error: str | None = None
    # Every part this event appends to, in part order; None for a text-only answer (then: TEXT part 0, `delta`).
    parts: tuple[PartDelta, ...] | None = None
    # Where the reader stands in the log after this event; None for a text-only answer (then: (0, offset)).
    position: Position | None = None
    # On a final event, when the model reported it.
    usage: Usage | None = None

    @property
    def part_deltas(self) -> tuple[PartDelta, ...]:
        if self.parts is not None:
            return self.parts
        return (PartDelta(0, TEXT_HEAD, self.delta),) if self.delta else ()

    @property
    def end(self) -> Position:
        """The resume point after this event."""
        return self.position if self.position is not None else Position(0, self.offset)


@dataclass(frozen=True, slots=True)
class StreamBody:
    stream_id: str
    text: str
    status: StreamStatus
    error: str | None = None
    # Every part, TEXT included; None for a text-only answer (then: TEXT part 0 holding `text`).
    parts: tuple[Part, ...] | None = None
    usage: Usage | None = None

    @property
    def offset(self) -> int:
        return len(self.text)

    @property
    def all_parts(self) -> tuple[Part, ...]:
        if self.parts is not None:
            return self.parts
        return (Part(0, TEXT_HEAD, self.text),) if self.text else ()

    @property
    def end(self) -> Position:
        """The resume point after everything in this body."""
        parts = self.all_parts
        return Position(parts[-1].index, len(parts[-1].text)) if parts else Position(0, 0)
