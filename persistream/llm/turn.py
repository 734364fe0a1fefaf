"""One model turn of an OpenAI-compatible chat completion stream, its chunks' deltas made into part events.

What a `chat.completion.chunk`'s delta may hold, and what it becomes:
- `content` is text, a plain `str`;
- reasoning, under whichever name the server uses: `reasoning_content` (DeepSeek, older vLLM), `reasoning` (vLLM,
  OpenRouter, Ollama), or `reasoning_details` (OpenRouter: the `text` of `reasoning.text` entries and the `summary`
  of `reasoning.summary` ones; encrypted entries carry nothing readable). A server in transition may send the same
  text under two of these names, so the first one present is read and the others are not;
- `tool_calls` fragments, each naming its call by `index`: the first fragment of a call carries its `id` (made up
  here when a server omits it) and `function.name`, and every fragment may carry a piece of `function.arguments`,
  split anywhere;
- a chunk's `usage` (the last chunk, with no choices, when the request asked for it) is the turn's `Usage`.

Parts are sequential and only the last part may grow, but a server may interleave the fragments of several tool
calls (measured: `0, 1, 0, 1, ...`). So the first call of the turn is "live": its fragments are emitted at once.
While it is live, everything else (another call's fragments, text or reasoning that comes after a call began) is
held and emitted at the end of the turn, in order of first appearance, each held call as one whole `ToolCallDelta`;
nothing is emitted in between, so the live call stays the last part. A new call becomes the live one instead only
when nothing is held yet and the live call's arguments are already whole JSON (a call cannot take more arguments
than a whole JSON value, so it is complete). Should a server still send more of a call after another became live,
that rest is held as a `ToolCallDelta` of its own: nothing is lost, and nothing within a call is reordered.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from persistream.llm.base import ModelError
from persistream.parts import PartEvent, ReasoningDelta, ToolCallDelta, Usage

# The field that holds the readable text of each kind of OpenRouter `reasoning_details` entry.
_DETAIL_TEXT = {"reasoning.text": "text", "reasoning.summary": "summary"}


class _Call:
    __slots__ = ("arguments", "call_id", "name", "sent", "started")

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.name = ""
        self.arguments: list[str] = []
        self.started = False  # its first ToolCallDelta went out
        self.sent = 0  # how many of `arguments` went out

    def whole(self) -> ToolCallDelta:
        self.started, self.sent = True, len(self.arguments)
        return ToolCallDelta(self.call_id, self.name, "".join(self.arguments))

    def is_complete(self) -> bool:
        try:
            json.loads("".join(self.arguments))
        except ValueError:
            return False
        return True


class Turn:
    """Reads one turn's deltas (`read`), then gives what it held back (`finish`). `max_deltas` bounds the deltas
    that carry anything (one delta holds at least one token, so it is the `max_tokens` a model may ignore)."""

    def __init__(self, max_deltas: int | None = None) -> None:
        self.max_deltas = max_deltas
        self.deltas = 0
        self.usage: Usage | None = None
        self._calls: dict[int, _Call] = {}
        self._live: _Call | None = None
        self._held: list[PartEvent | _Call] = []

    def read(self, delta: dict[str, Any], out: list[PartEvent]) -> None:
        """Append to `out` the events of one choice's delta that may go out now."""
        content = delta.get("content")
        if len(delta) == 1 and type(content) is str and self._live is None:
            # The text path, most deltas of most answers: kept as short as it was before there were parts.
            if content:
                self.deltas += 1
                if self.max_deltas is not None and self.deltas > self.max_deltas:
                    raise self._cut()
                out.append(content)
            return
        reasoning = _reasoning(delta)
        tool_calls = delta.get("tool_calls")
        if not (content or reasoning or tool_calls):
            return  # an empty delta, such as the first chunk that only names the role
        self.deltas += 1
        if self.max_deltas is not None and self.deltas > self.max_deltas:
            raise self._cut()
        if reasoning:
            self._say(ReasoningDelta(reasoning), out)
        if isinstance(content, str) and content:
            self._say(content, out)
        if isinstance(tool_calls, list):
            for fragment in tool_calls:
                if isinstance(fragment, dict):
                    self._fragment(fragment, out)

    def read_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            details = usage.get("completion_tokens_details")
            reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
            self.usage = Usage(
                _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")), _count(reasoning)
            )

    def finish(self) -> list[PartEvent]:
        """What was held back, in order of first appearance, then the turn's usage, if the model reported it."""
        out: list[PartEvent] = []
        if self._live is not None and not self._live.started:
            out.append(self._live.whole())  # a call whose name never came
        for item in self._held:
            out.append(item.whole() if isinstance(item, _Call) else item)
        self._held = []
        if self.usage is not None:
            out.append(self.usage)
        return out

    def _cut(self) -> ModelError:
        return ModelError(
            f"The answer was cut at the limit of {self.max_deltas} tokens: the model went on past it.",
            detail=f"the model sent more than max_tokens={self.max_deltas} deltas",
        )

    def _say(self, event: str | ReasoningDelta, out: list[PartEvent]) -> None:
        if self._live is None:
            out.append(event)
        else:
            self._held.append(event)

    def _fragment(self, fragment: dict[str, Any], out: list[PartEvent]) -> None:
        function = fragment.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        arguments = function.get("arguments") if isinstance(function, dict) else None
        given_id = fragment.get("id")
        index = fragment.get("index")
        if not isinstance(index, int):
            index = self._index_of(given_id if isinstance(given_id, str) else None)
        call = self._calls.get(index)
        if call is None:
            call_id = given_id if isinstance(given_id, str) and given_id else f"call_{index}_{secrets.token_hex(4)}"
            call = self._calls[index] = _Call(call_id)
            live = self._live
            if live is None or (not self._held and live.is_complete()):
                if live is not None and not live.started:
                    out.append(live.whole())  # complete, but its name never came: it goes out as it is
                self._live = call
            else:
                self._held.append(call)
        if isinstance(name, str) and name and not call.name:
            call.name = name
        if isinstance(arguments, str) and arguments:
            call.arguments.append(arguments)
            if call.started and call is not self._live:
                # A server that goes back to a call after another became live: the rest is held, not lost.
                self._held.append(ToolCallDelta(call.call_id, call.name, arguments))
                call.sent = len(call.arguments)
        if call is self._live and call.name and (call.sent < len(call.arguments) or not call.started):
            out.append(ToolCallDelta(call.call_id, call.name, "".join(call.arguments[call.sent :])))
            call.started, call.sent = True, len(call.arguments)

    def _index_of(self, call_id: str | None) -> int:
        """The index of a fragment that names none (some servers): its call's, by id, or the latest call's."""
        for index, call in self._calls.items():
            if call_id is not None and call.call_id == call_id:
                return index
        if call_id is None and self._calls:
            return list(self._calls)[-1]
        return len(self._calls)


def _reasoning(delta: dict[str, Any]) -> str:
    for key in ("reasoning_content", "reasoning"):
        text = delta.get(key)
        if isinstance(text, str) and text:
            return text
    details = delta.get("reasoning_details")
    if not isinstance(details, list):
        return ""
    texts = []
    for detail in details:
        kind = detail.get("type") if isinstance(detail, dict) else None
        text = (
            detail.get("text")
            if kind == "reasoning.text"
            else detail.get("summary")
            if kind == "reasoning.summary"
            else None
        )
        if isinstance(text, str):
            texts.append(text)
    return "".join(texts)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
