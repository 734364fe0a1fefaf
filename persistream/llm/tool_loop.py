"""The tool loop: one answer as several model calls, the tools the model asks for run in between.

A step streams the model's turn out as it comes (its text, reasoning and tool calls, as `PartEvent`s). If the
model asked for tools, each call runs in the order the model made them, under `asyncio.timeout(tool_timeout)`, an
async tool awaited and any other in a thread, and its `ToolResult` is yielded; then the conversation gains the
assistant message with its `tool_calls` and one `tool` message per result, and the model is called again. The
answer ends when a turn asks for no tool. Usage is summed over every model call and yielded once, at the end.

- A tool that fails, or runs out of time, or that the model named wrongly, or whose arguments do not fit, gives a
  `ToolResult` with `is_error` whose text says what failed (never a traceback): the model reads it and goes on.
- After `max_steps` model calls the loop stops with a `ModelError` that says the step limit was reached (the
  last turn's calls are then not run: their results could no longer be read by anyone).
- A tool call when no tool is configured: the call's parts are yielded, then a `ModelError`, never a silent end.
- Cancelling the consumer cancels the tool it is waiting for (an async tool receives `CancelledError`; a thread
  cannot be stopped, so a sync tool's thread runs to its end and its result is dropped). The same holds for the
  timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from persistream.llm.base import ChatMessage, ModelError, PartsModel, ToolCall
from persistream.llm.tools import Tool, ToolArgumentsError
from persistream.parts import PartEvent, ToolCallDelta, ToolResult, Usage
from persistream.redact import redact_line

NO_TOOLS = "The model asked for a tool, and none is configured."


@dataclass
class _Step:
    """What one model turn said that the next request repeats: its text and its whole tool calls."""

    text: list[str] = field(default_factory=list)
    calls: dict[str, ToolCall] = field(default_factory=dict)
    # Results the source yielded itself (it ran those calls): the loop does not run them again.
    results: dict[str, ToolResult] = field(default_factory=dict)

    def add_call(self, delta: ToolCallDelta) -> None:
        known = self.calls.get(delta.call_id)
        arguments = delta.arguments if known is None else known.arguments + delta.arguments
        self.calls[delta.call_id] = ToolCall(delta.call_id, delta.name or (known.name if known else ""), arguments)


async def run_tool_loop(
    model: PartsModel,
    messages: Sequence[ChatMessage],
    tools: Sequence[Tool],
    *,
    tool_timeout: float = 30.0,
    max_steps: int = 8,
) -> AsyncIterator[PartEvent]:
    """Every part of the answer, the tools' results among them, then the summed `Usage` if the model reported any."""
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    by_name = {tool.name: tool for tool in tools}
    schemas = [tool.schema() for tool in tools] or None
    history = list(messages)
    usage: Usage | None = None
    for steps in range(1, max_steps + 1):
        step = _Step()
        async with _closing(model.stream_parts(history, schemas)) as events:
            async for event in events:
                if isinstance(event, Usage):
                    usage = event if usage is None else usage + event
                    continue
                if isinstance(event, str):
                    step.text.append(event)
                elif isinstance(event, ToolCallDelta):
                    step.add_call(event)
                elif isinstance(event, ToolResult):
                    step.results[event.call_id] = event
                yield event
        if step.calls.keys() <= step.results.keys():
            break
        if not by_name or steps == max_steps:
            if usage is not None:
                yield usage
            raise ModelError(NO_TOOLS) if not by_name else _step_limit(max_steps)
        history.append(ChatMessage("assistant", "".join(step.text), tool_calls=tuple(step.calls.values())))
        for call in step.calls.values():
            result = step.results.get(call.call_id)
            if result is None:
                result = await _run(by_name.get(call.name), call, tool_timeout)
                yield result
            history.append(ChatMessage("tool", result.text, tool_call_id=call.call_id))
    if usage is not None:
        yield usage


async def _run(tool: Tool | None, call: ToolCall, timeout: float) -> ToolResult:
    """The result of one call; any failure of the tool is an error result, for the model to read."""
    if tool is None:
        return ToolResult(call.call_id, call.name, f"There is no tool named {call.name!r}.", is_error=True)
    try:
        async with asyncio.timeout(timeout) as deadline:
            return ToolResult(call.call_id, call.name, await tool.call(call.arguments))
    except ToolArgumentsError as exc:
        return ToolResult(call.call_id, call.name, f"The tool {call.name} was not run: {exc}.", is_error=True)
    except Exception as exc:
        if isinstance(exc, TimeoutError) and deadline.expired():
            said = f"The tool {call.name} did not finish within {timeout:g} seconds."
            return ToolResult(call.call_id, call.name, said, is_error=True)
        # The exception's type and message, never its traceback: this text goes to the model and to readers.
        reason = f"{type(exc).__name__}: {redact_line(str(exc), 300)}" if str(exc) else type(exc).__name__
        return ToolResult(call.call_id, call.name, f"The tool {call.name} failed: {reason}", is_error=True)


@contextlib.asynccontextmanager
async def _closing(events: AsyncIterator[PartEvent]) -> AsyncIterator[AsyncIterator[PartEvent]]:
    """Closes the model's stream when the loop leaves it, even cancelled: its HTTP response then closes at once."""
    try:
        yield events
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


def _step_limit(max_steps: int) -> ModelError:
    return ModelError(
        f"The answer reached its step limit: {max_steps} model calls were made, and the model still asked for tools.",
        detail=f"max_steps={max_steps} reached",
    )
