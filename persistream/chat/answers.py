"""Where one answer's parts come from: the model alone, or the tool loop around it; and the tokens it reports.

- A model that can say more than text (a `PartsModel`, with `stream_parts`) is asked for every part: reasoning,
  tool calls, text and usage. With tools configured its answer runs as the tool loop (`llm/tool_loop.py`), the
  tools' results among its parts. A model with only `stream` yields text, as it always has, and cannot call tools.
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
from persistream.llm.base import ChatMessage, ChatModel, PartsModel
from persistream.llm.tool_loop import run_tool_loop
from persistream.llm.tools import Tool, load_tools, make_tools
from persistream.parts import PartEvent, Usage


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

    def events(self, conversation: Sequence[ChatMessage]) -> AsyncIterator[PartEvent]:
        """Every part of the answer to `conversation`, as the model (and the tools) produce them."""
        model = parts_model(self.model)
        if model is None:
            return self.model.stream(conversation)  # text only: no usage to count
        if self.tools:
            loop = run_tool_loop(
                model, conversation, self.tools, tool_timeout=self.tool_timeout, max_steps=self.max_steps
            )
            return _metered(loop)
        return _metered(model.stream_parts(conversation))


async def _metered(events: AsyncIterator[PartEvent]) -> AsyncIterator[PartEvent]:
    """`events` as they are, the usage counted as it goes by. Closing this closes `events` (the model's stream)."""
    try:
        async for event in events:
            if isinstance(event, Usage):
                metrics.model_tokens(event)
            yield event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
