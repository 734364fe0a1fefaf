"""What a generator yields: the public vocabulary of an answer's parts.

An answer is an ordered list of parts, each of one `PartKind`. A source (a model provider, the tool loop, your own
generator) yields `PartEvent`s, and each event either grows the answer's last part or starts a new one:

- a plain `str` is TEXT: the answer itself. Text stays a bare `str` so that a text-only source, and the text path
  through the server, cost nothing more than they did before parts existed;
- `ReasoningDelta` is REASONING text (the model's thinking);
- `ToolCallDelta` is a fragment of a TOOL_CALL's JSON arguments; the first one for a `call_id` starts that call's
  part, and the ones after it, for the same `call_id`, grow it;
- `ToolResult` is a whole TOOL_RESULT part: what a tool returned for `call_id`;
- `Usage` is not a part: it reports the tokens the model used.

A new part starts whenever the kind (or the tool call) changes, and only the last part can grow: a source never
goes back to a part once another one has started.

This module imports nothing of the package (only the standard library), so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias


class PartKind(StrEnum):
    """The kind of one part of an answer."""

    TEXT = "TEXT"
    REASONING = "REASONING"
    TOOL_CALL = "TOOL_CALL"
    TOOL_RESULT = "TOOL_RESULT"


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Reasoning ("thinking") text the model sent, appended to the current REASONING part (or starting one)."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call: `arguments` is a piece of the call's JSON arguments, which may be split anywhere.

    The first delta for a `call_id` starts that call's TOOL_CALL part; the deltas after it for the same `call_id`
    append their `arguments` to it. `name` is the tool's name, the same in every delta of a call."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What the tool returned for the call `call_id`, as text (JSON or plain). `is_error` when the tool failed (or
    could not run), `text` then saying why. A whole TOOL_RESULT part."""

    call_id: str
    name: str
    text: str
    is_error: bool = False


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens the model reported: each count is None when the model did not say.

    `output_tokens` are its completion tokens, reasoning included where the model counts it there. Usages add up
    field by field (an answer of several model calls reports their sum); a field stays None only where both are."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            _plus(self.input_tokens, other.input_tokens),
            _plus(self.output_tokens, other.output_tokens),
            _plus(self.reasoning_tokens, other.reasoning_tokens),
        )


def _plus(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    return a if b is None else a + b


# Everything a source may yield. `str` is TEXT.
PartEvent: TypeAlias = str | ReasoningDelta | ToolCallDelta | ToolResult | Usage

__all__ = ["PartEvent", "PartKind", "ReasoningDelta", "ToolCallDelta", "ToolResult", "Usage"]
