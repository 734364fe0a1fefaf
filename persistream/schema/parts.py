"""The GraphQL types of an answer's parts and usage: `PartKind`, `Part`, `PartDelta`, `Usage`.

Like the other types, they read attributes of the engine's objects as they are (`engine/events.py`'s `Part` and
`PartDelta`, `persistream.parts.Usage`): nothing is copied. `PartKind`'s members carry the values of
`persistream.parts.PartKind`, so a part's own kind resolves to its GraphQL name without a conversion.
"""

from __future__ import annotations

from enum import Enum

import strawberry

from persistream import parts


@strawberry.enum(
    name="PartKind",
    description="What one part of an answer holds. New kinds may be added; clients show a kind they do not know as "
    "text.",
)
class PartKind(Enum):
    TEXT = strawberry.enum_value(
        parts.PartKind.TEXT, description="The answer itself. `text`, `delta` and `offset` carry TEXT parts only."
    )
    REASONING = strawberry.enum_value(
        parts.PartKind.REASONING, description='The model\'s reasoning ("thinking"), when the model sends it.'
    )
    TOOL_CALL = strawberry.enum_value(
        parts.PartKind.TOOL_CALL,
        description="A tool call: `toolName`, `toolCallId`, and the arguments as JSON text in `text` (streamed as "
        "the model writes them).",
    )
    TOOL_RESULT = strawberry.enum_value(
        parts.PartKind.TOOL_RESULT,
        description="What the tool returned for `toolCallId` (JSON or plain text in `text`); `isError` when it failed.",
    )


@strawberry.type(
    description="One part of an answer, as persisted. Parts follow each other; only the last one can still grow."
)
class Part:
    index: int = strawberry.field(description="Position of the part in the answer, from 0.")
    kind: PartKind
    text: str
    tool_name: str | None
    tool_call_id: str | None
    is_error: bool = strawberry.field(description="TOOL_RESULT only: true when the tool failed and `text` says why.")


@strawberry.type(description="Text that one event appends to one part (a part's first delta starts it).")
class PartDelta:
    index: int
    kind: PartKind
    delta: str
    tool_name: str | None
    tool_call_id: str | None
    is_error: bool


@strawberry.type(
    description="Tokens the model reported for one answer (all its steps together); a field is null when the model "
    "did not say."
)
class Usage:
    input_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
