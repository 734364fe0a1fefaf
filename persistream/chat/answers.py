"""Where one answer's parts come from: the model alone, or the tool loop around it; and the tokens it reports.

- A model that can say more than text (a `PartsModel`, with `stream_parts`) is asked for every part: reasoning,
  tool calls, text and usage. With tools configured its answer runs as the tool loop (`llm/tool_loop.py`), the
  tools' results among its parts; without, a tool call ends the answer in ERROR (NO_TOOLS), its parts kept. A
  model with only `stream` yields text, as it always has, and cannot call tools.
- The `Usage` an answer reports goes by in its source (the tool loop yields one, summed over its model calls; a
  model alone yields one per answer): it is counted in `persistream_model_tokens_total` as it passes, so the engine
  stores it and needs to know nothing of metrics.
- `configured_tools` turns `PERSISTREAM_TOOLS` into tools at start-up; anything wrong with it is a `ConfigError`
  naming the variable, so the server refuses to start instead of failing its first answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import cast

from persistream import metrics
from persistream.config import ConfigError
from persistream.llm.base import BuiltInModel, ChatMessage, ChatModel, ModelError, PartsModel
from persistream.llm.tool_loop import NO_TOOLS, run_tool_loop
from persistream.llm.tools import Tool, load_tools, make_tools
from persistream.parts import PartEvent, ToolCallDelta, ToolResult, Usage


def configured_tools(spec: str | None) -> list[Tool]:
    """The tools `PERSISTREAM_TOOLS` names (none when unset); ConfigError, naming the variable, when they cannot
    be loaded or made."""
    if spec is None:
        return []
    try:
        return make_tools(load_tools(spec))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"PERSISTREAM_TOOLS={spec} cannot be used: {exc}") from None


def parts_model(model: ChatModel) -> PartsModel | None:
    """The model as a `PartsModel` when it has `stream_parts`, else None (a text-only generator)."""
    return cast(PartsModel, model) if callable(getattr(model, "stream_parts", None)) else None


@dataclass(frozen=True)
class AnswerSource:
    model: ChatModel
    tools: Sequence[Tool] = ()
    tool_timeout: float = 30.0
    max_steps: int = 8

    @property
    def speaker(self) -> str:
        """What the silence message calls this source: "model" for persistream's own providers, else "generator"
        (your own code may be no model at all)."""
        return "model" if isinstance(self.model, BuiltInModel) else "generator"

    def events(self, conversation: Sequence[ChatMessage]) -> AsyncIterator[PartEvent]:
        """Every part of the answer to `conversation`, as the model (and the tools) produce them."""
        model = parts_model(self.model)
        if model is None:
            return self.model.stream(conversation)  # text only: no usage to count, no tool to call
        if self.tools:
            loop = run_tool_loop(
                model, conversation, self.tools, tool_timeout=self.tool_timeout, max_steps=self.max_steps
            )
            return _watched(loop, calls_answered=True)
        # Without tools the model is asked once, offered none: a tool call it makes anyway ends the answer in
        # ERROR, as the tool loop's would, never as a DONE answer that stops at a question nobody answers.
        return _watched(model.stream_parts(conversation), calls_answered=False)


async def _watched(events: AsyncIterator[PartEvent], *, calls_answered: bool) -> AsyncIterator[PartEvent]:
    """`events` as they are, the usage counted as it goes by; unless `calls_answered`, a tool call the source did
    not answer itself (with its `ToolResult`) raises NO_TOOLS once the source has ended. Closing this closes
    `events` (the model's stream)."""
    unanswered: set[str] = set()
    try:
        async for event in events:
            if not isinstance(event, str):  # text, nearly every event, costs one check
                if isinstance(event, Usage):
                    metrics.model_tokens(event)
                elif isinstance(event, ToolCallDelta) and not calls_answered:
                    unanswered.add(event.call_id)
                elif isinstance(event, ToolResult):
                    unanswered.discard(event.call_id)
            yield event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    if unanswered:
        raise ModelError(NO_TOOLS)
