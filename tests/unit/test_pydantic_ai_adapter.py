"""examples/pydantic_ai_agent.py in one process, on pydantic-ai's FunctionModel: a tool that fails is an error result
the agent goes on from, a run that fails is a ModelError with a short public message, and the conversation reaches
the agent as its instructions, history and prompt."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic_ai import Agent, ModelRetry
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, DeltaToolCalls, FunctionModel

from examples.pydantic_ai_agent import AgentGenerator, agent_inputs
from persistream.generator import ChatMessage, ModelError, PartEvent, ToolCallDelta, ToolResult, Usage

CONVERSATION = [
    ChatMessage("system", "Be brief."),
    ChatMessage("user", "Hi"),
    ChatMessage("assistant", "Hello!"),
    ChatMessage("user", "Look it up"),
]


async def collect(events: AsyncIterator[PartEvent]) -> list[PartEvent]:
    return [event async for event in events]


def test_the_conversation_becomes_instructions_history_and_prompt() -> None:
    instructions, history, prompt = agent_inputs(CONVERSATION)
    assert (instructions, prompt) == ("Be brief.", "Look it up")
    request, response = history
    assert isinstance(request, ModelRequest) and isinstance(response, ModelResponse)
    assert [(type(p), p.content) for p in request.parts] == [(UserPromptPart, "Hi")]
    assert [(type(p), p.content) for p in response.parts] == [(TextPart, "Hello!")]


async def test_a_failing_tool_is_an_error_result_and_the_agent_goes_on() -> None:
    seen: list[list[ModelMessage]] = []

    async def model(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls]:
        seen.append(messages)
        if len(seen) == 1:
            yield {0: DeltaToolCall(name="lookup", json_args='{"key": "x"}', tool_call_id="c1")}
        else:
            yield "Not found."

    agent: Agent[None, str] = Agent(FunctionModel(stream_function=model), output_type=str, retries=2)

    @agent.tool_plain
    def lookup(key: str) -> str:
        """Looks `key` up."""
        raise ModelRetry(f"no entry for {key}")

    events = await collect(AgentGenerator(agent).stream_parts(CONVERSATION))
    call, result, text, usage = events
    assert call == ToolCallDelta("c1", "lookup", '{"key":"x"}')
    assert isinstance(result, ToolResult) and result.is_error and "no entry for x" in result.text
    assert text == "Not found."
    assert isinstance(usage, Usage) and usage.input_tokens
    # The agent was given the earlier turn as history and the system prompt as its instructions.
    first = seen[0]
    assert any(isinstance(p, TextPart) and p.content == "Hello!" for m in first for p in m.parts)
    returned = [p for p in seen[1][-1].parts if isinstance(p, ToolReturnPart)]
    assert returned and returned[0].outcome in ("failed", "retried")
    # `stream` is the same answer's text alone.
    seen.clear()
    assert [t async for t in AgentGenerator(agent).stream(CONVERSATION)] == ["Not found."]


async def test_a_failed_run_is_a_model_error_with_a_short_message() -> None:
    async def stubborn(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[DeltaToolCalls]:
        yield {0: DeltaToolCall(name="no_such_tool", json_args="{}", tool_call_id="c1")}  # again and again

    agent: Agent[None, str] = Agent(FunctionModel(stream_function=stubborn), output_type=str, retries=0)
    with pytest.raises(ModelError) as raised:
        await collect(AgentGenerator(agent).stream_parts(CONVERSATION))
    assert raised.value.user_message == "The agent could not finish its answer."
    assert raised.value.detail != raised.value.user_message  # what failed goes to the log
