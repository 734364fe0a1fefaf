"""The Python client's view of an answer's parts: what one event appends to a part (`PartDelta`), a part as stored
or as assembled (`Part`), the tokens the model reported (`Usage`), and `PartsAssembler`, which folds deltas into
parts. `persistream.client` re-exports every name here; import them from there.

Invariants: a part's index, kind, tool_name, tool_call_id and is_error are set by its first delta and never change,
only its text grows (by appending each delta in order). `kind` is the server's string, not an enum, so a kind a
newer server adds passes through unchanged (show it as text). Like the client, this module imports nothing of the
server: only the standard library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

# The kinds this client knows; any other string is a kind a newer server added.
TEXT = "TEXT"
REASONING = "REASONING"
TOOL_CALL = "TOOL_CALL"
TOOL_RESULT = "TOOL_RESULT"
KNOWN_KINDS = frozenset({TEXT, REASONING, TOOL_CALL, TOOL_RESULT})

# The GraphQL selections the client asks for.
DELTA_FIELDS = "parts { index kind delta toolName toolCallId isError }"
PART_FIELDS = "parts { index kind text toolName toolCallId isError }"
USAGE_FIELDS = "usage { inputTokens outputTokens reasoningTokens }"


@dataclass(frozen=True)
class Part:
    """One part of an answer: TEXT, REASONING, TOOL_CALL (`text` is the call's JSON arguments) or TOOL_RESULT
    (`text` is what the tool returned: untrusted, like the model's output; `is_error` when the tool failed)."""

    index: int
    kind: str
    text: str
    tool_name: str | None = None
    tool_call_id: str | None = None
    is_error: bool = False


@dataclass(frozen=True)
class PartDelta:
    """What one event appends to the part at `index` (its first delta starts it, and may be empty)."""

    index: int
    kind: str
    delta: str
    tool_name: str | None = None
    tool_call_id: str | None = None
    is_error: bool = False


@dataclass(frozen=True)
class Usage:
    """Tokens the model reported for the whole answer (every model call of it); None where it did not say."""

    input_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None


class PartsAssembler:
    """Parts built from deltas, event after event, starting from `parts` (a body read earlier, say). Each part's
    text is kept as its pieces, joined only when `parts` is read, so a long answer costs linear time."""

    def __init__(self, parts: Iterable[Part] = ()) -> None:
        self._heads: dict[int, Part] = {}
        self._pieces: dict[int, list[str]] = {}
        for part in parts:
            self._heads[part.index] = replace(part, text="")
            self._pieces[part.index] = [part.text]

    def add(self, deltas: Iterable[PartDelta]) -> None:
        for delta in deltas:
            pieces = self._pieces.get(delta.index)
            if pieces is None:
                self._heads[delta.index] = Part(
                    delta.index, delta.kind, "", delta.tool_name, delta.tool_call_id, delta.is_error
                )
                self._pieces[delta.index] = [delta.delta]
            else:
                pieces.append(delta.delta)

    @property
    def parts(self) -> tuple[Part, ...]:
        """Every part so far, in order."""
        return tuple(replace(self._heads[i], text="".join(self._pieces[i])) for i in sorted(self._heads))


def part_from(data: Mapping[str, Any]) -> Part:
    return Part(
        data["index"], data["kind"], data["text"], data.get("toolName"), data.get("toolCallId"), bool(data["isError"])
    )


def delta_from(data: Mapping[str, Any]) -> PartDelta:
    return PartDelta(
        data["index"], data["kind"], data["delta"], data.get("toolName"), data.get("toolCallId"), bool(data["isError"])
    )


def usage_from(data: Mapping[str, Any] | None) -> Usage | None:
    if data is None:
        return None
    return Usage(data.get("inputTokens"), data.get("outputTokens"), data.get("reasoningTokens"))
