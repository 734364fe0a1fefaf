"""The provider seam: a generator (a chat model, or your own code) turns a conversation into an async stream of
text tokens, or of parts. Users import these names from `persistream.generator`, which documents them.

`ChatModel.stream(messages)` yields the answer's text only: the minimal generator a user writes. A generator that
can say more (reasoning, tool calls, usage) is a `PartsModel` too: its `stream_parts(messages, tools)` yields every
`PartEvent` (persistream/parts.py), text as plain `str`, and its `stream` yields exactly the `str` events of
`stream_parts`, so a caller that knows only text sees the same text. `aclose()` is optional: the server calls it
at shutdown when a generator has it.

A conversation may hold a tool loop's earlier steps: an assistant message with `tool_calls`, then one `tool`
message per call, carrying the call's `tool_call_id`. A plain `ChatMessage(role, content)` is what it always was;
an earlier answer also carries its `parts`, whole, in the types a generator yields.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from persistream.parts import PartEvent


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A whole tool call the model made: its id, the tool's name and its arguments as JSON text."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    # An assistant message: the tools it asked for (its `content` then is the text it wrote beside them, if any).
    tool_calls: tuple[ToolCall, ...] = ()
    # A `tool` message: the call whose result `content` is.
    tool_call_id: str | None = None
    # An earlier answer (`assistant`): every part it holds, in order, each whole: `str` for TEXT, `ReasoningDelta`,
    # `ToolCallDelta` (its whole arguments) and `ToolResult`. `content` is its TEXT alone.
    parts: tuple[PartEvent, ...] = ()


class ChatModel(Protocol):
    name: str

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """Yield the answer's text as it is produced. Closing the iterator must close the model's stream."""
        ...


class PartsModel(ChatModel, Protocol):
    def stream_parts(
        self, messages: Sequence[ChatMessage], tools: Sequence[dict[str, Any]] | None = None
    ) -> AsyncIterator[PartEvent]:
        """Yield every part of one model turn as it is produced, text as `str`, then its `Usage` when the model
        reported one. `tools` are OpenAI function tool schemas the model may call; a tool call is yielded as
        `ToolCallDelta`s and not run (running it is the tool loop's job). Closing the iterator must close the
        model's stream."""
        ...


class BuiltInModel:
    """The base of persistream's own providers (`demo`, `openai`): what sets them apart from a user's generator is
    only how the server words their silence ("The model sent nothing")."""


class ModelError(Exception):
    """The generator failed: raise it to end the answer in ERROR with `user_message`, which users see. `detail` is
    for the server's log only (never shown; it must not hold a secret). Any other exception a generator raises ends
    the answer with a generic message instead, its text only logged."""

    def __init__(self, user_message: str, detail: str = "") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.detail = detail or user_message
