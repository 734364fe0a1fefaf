"""An answer's events as AG-UI events. Pure: no I/O.

An answer is a log of parts (persistream.parts); each part becomes one AG-UI message or call:

- TEXT: TEXT_MESSAGE_START, TEXT_MESSAGE_CONTENT per delta, TEXT_MESSAGE_END;
- REASONING: REASONING_START and REASONING_MESSAGE_START, REASONING_MESSAGE_CONTENT per delta,
  REASONING_MESSAGE_END and REASONING_END;
- TOOL_CALL: TOOL_CALL_START, TOOL_CALL_ARGS per delta, TOOL_CALL_END;
- TOOL_RESULT: one TOOL_CALL_RESULT once the part is whole (AG-UI carries a result in one event).

A part ends when the next one starts or the answer ends. The run opens with RUN_STARTED and ends with RUN_FINISHED
(DONE; CANCELLED with the `cancelled` outcome) or RUN_ERROR (ERROR, TIMEOUT; the code is the status).

Every event has a `Key`: the place in the log once it has been sent (the position of the data consumed so far)
and its number among the events sent at that place. Keys depend only on the log, never on how its text was cut
into chunks, and each is greater than the one before, so a reader that lost the connection after the event with
key K gets the rest by mapping the log from its start again and keeping what lies after K (`after`): a content
event that straddles K keeps only its text past K.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ag_ui.core import (
    BaseEvent,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)

from persistream.engine.cursor import START, Position
from persistream.engine.events import PartDelta, PartHead, StreamEvent, StreamStatus
from persistream.parts import PartKind, Usage

FINAL = frozenset({StreamStatus.DONE, StreamStatus.ERROR, StreamStatus.TIMEOUT, StreamStatus.CANCELLED})
ERROR_MESSAGES = {
    StreamStatus.ERROR: "The answer failed.",
    StreamStatus.TIMEOUT: "The answer stopped: its generation went silent.",
}


@dataclass(frozen=True, slots=True, order=True)
class Key:
    position: Position
    step: int


@dataclass(frozen=True, slots=True)
class Keyed:
    key: Key
    event: BaseEvent
    # Where a content event's text starts in its part (for `after` to cut it); None for every other event.
    start: Position | None = None


@dataclass(slots=True)
class _Open:
    index: int
    head: PartHead
    result: list[str]


class RunMapper:
    """Maps one answer's events, in order, to AG-UI events. `thread_id` and `run_id` are what the events name."""

    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.position = START
        self.step = 0
        self.open: _Open | None = None
        self.finished = False

    def start(self) -> list[Keyed]:
        return [self._keyed(RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id))]

    def feed(self, event: StreamEvent) -> list[Keyed]:
        out: list[Keyed] = []
        for delta in event.part_deltas:
            out.extend(self._delta(delta))
        if event.status in FINAL and not self.finished:
            self.finished = True
            out.extend(self._close())
            out.append(self._keyed(self._terminal(event.status, event.error, event.usage)))
        return out

    def _delta(self, delta: PartDelta) -> Iterator[Keyed]:
        if self.open is None or self.open.index != delta.index:
            yield from self._close()
            yield from self._begin(delta)
        assert self.open is not None
        if not delta.delta:
            return
        start = self.position
        self._move(Position(delta.index, self.position.offset + len(delta.delta)))
        if self.open.head.kind is PartKind.TOOL_RESULT:
            self.open.result.append(delta.delta)  # sent whole when the part ends
            return
        yield self._keyed(self._content(delta), start)

    def _begin(self, delta: PartDelta) -> Iterator[Keyed]:
        self.open = _Open(delta.index, delta.head, [])
        head, message_id = delta.head, self._message_id(delta.index)
        if head.kind is PartKind.TEXT:
            yield self._keyed(TextMessageStartEvent(message_id=message_id, role="assistant"))
        elif head.kind is PartKind.REASONING:
            yield self._keyed(ReasoningStartEvent(message_id=message_id + "-reasoning"))
            yield self._keyed(ReasoningMessageStartEvent(message_id=message_id, role="reasoning"))
        elif head.kind is PartKind.TOOL_CALL:
            name = head.tool_name or "tool"
            yield self._keyed(ToolCallStartEvent(tool_call_id=self._call_id(), tool_call_name=name))
        self._move(Position(delta.index, 0))

    def _content(self, delta: PartDelta) -> BaseEvent:
        message_id = self._message_id(delta.index)
        if delta.head.kind is PartKind.REASONING:
            return ReasoningMessageContentEvent(message_id=message_id, delta=delta.delta)
        if delta.head.kind is PartKind.TOOL_CALL:
            return ToolCallArgsEvent(tool_call_id=self._call_id(), delta=delta.delta)
        return TextMessageContentEvent(message_id=message_id, delta=delta.delta)

    def _close(self) -> Iterator[Keyed]:
        part, self.open = self.open, None
        if part is None:
            return
        message_id = self._message_id(part.index)
        kind = part.head.kind
        if kind is PartKind.TEXT:
            yield self._keyed(TextMessageEndEvent(message_id=message_id))
        elif kind is PartKind.REASONING:
            yield self._keyed(ReasoningMessageEndEvent(message_id=message_id))
            yield self._keyed(ReasoningEndEvent(message_id=message_id + "-reasoning"))
        elif kind is PartKind.TOOL_CALL:
            yield self._keyed(ToolCallEndEvent(tool_call_id=part.head.tool_call_id or message_id))
        else:
            metadata = {"persistream": {"isError": True}} if part.head.is_error else None
            result = ToolCallResultEvent(
                message_id=message_id,
                tool_call_id=part.head.tool_call_id or message_id,
                content="".join(part.result),
                role="tool",
                metadata=metadata,
            )
            yield self._keyed(result)

    def _terminal(self, status: StreamStatus, error: str | None, usage: Usage | None) -> BaseEvent:
        if status is StreamStatus.DONE:
            return RunFinishedEvent(thread_id=self.thread_id, run_id=self.run_id, usage=_usage(usage))
        if status is StreamStatus.CANCELLED:
            cancelled = RunFinishedCancelledOutcome()
            return RunFinishedEvent(
                thread_id=self.thread_id, run_id=self.run_id, outcome=cancelled, usage=_usage(usage)
            )
        return RunErrorEvent(message=error or ERROR_MESSAGES.get(status, "The answer failed."), code=status.value)

    def _message_id(self, index: int) -> str:
        return f"{self.run_id}-{index}"

    def _call_id(self) -> str:
        assert self.open is not None
        return self.open.head.tool_call_id or self._message_id(self.open.index)

    def _move(self, position: Position) -> None:
        if position != self.position:
            self.position, self.step = position, 0

    def _keyed(self, event: BaseEvent, start: Position | None = None) -> Keyed:
        keyed = Keyed(Key(self.position, self.step), event, start)
        self.step += 1
        return keyed


def _usage(usage: Usage | None) -> list[TokenUsage] | None:
    if usage is None:
        return None
    total = None
    if usage.input_tokens is not None and usage.output_tokens is not None:
        total = usage.input_tokens + usage.output_tokens
    return [
        TokenUsage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            total_tokens=total,
        )
    ]


def after(events: Iterable[Keyed], key: Key | None) -> Iterator[Keyed]:
    """The events past `key` (all of them for None): a content event that began before it keeps only the text
    past it."""
    for keyed in events:
        if key is None or (keyed.key > key and keyed.start is None):
            yield keyed
        elif keyed.key > key:
            yield _cut(keyed, key.position)


def _cut(keyed: Keyed, position: Position) -> Keyed:
    start = keyed.start
    assert start is not None
    if start >= position or start.part != position.part:
        return keyed
    event = keyed.event
    skip = position.offset - start.offset
    delta: str = getattr(event, "delta")  # noqa: B009 (every content event has one)
    return Keyed(keyed.key, event.model_copy(update={"delta": delta[skip:]}), position)


__all__ = ["Key", "Keyed", "RunMapper", "after"]
