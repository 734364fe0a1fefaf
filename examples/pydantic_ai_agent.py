"""A pydantic-ai agent, tools included, as a persistream generator: its events become parts.

    pip install persistream pydantic-ai-slim[openai]
    cd examples && OPENAI_API_KEY=sk-... PERSISTREAM_PROVIDER=pydantic_ai_agent:from_settings persistream serve

`AgentGenerator(agent)` runs the agent once per answer (`agent.run_stream_events`) and turns what happens into
persistream's parts, each as it happens:

| pydantic-ai event                                     | persistream part                        |
|-------------------------------------------------------|-----------------------------------------|
| `PartStartEvent` / `PartDeltaEvent` of text           | `str` (TEXT)                            |
| `PartStartEvent` / `PartDeltaEvent` of a ThinkingPart | `ReasoningDelta` (REASONING)            |
| `FunctionToolCallEvent` (the agent runs a tool)       | `ToolCallDelta`, whole (TOOL_CALL)      |
| `FunctionToolResultEvent` (the tool returned)         | `ToolResult` (TOOL_RESULT), failed ones |
|                                                       | `is_error`                              |
| `AgentRunResultEvent` (the run is over)               | `Usage`                                 |

The agent runs its own tools, so persistream's tool loop has nothing to run. The conversation persistream gives
(the system prompt, the branch's earlier prompts and answers, the new prompt) becomes the agent's instructions, its
message history and its user prompt. A failed run ends the answer in ERROR with a short message; what failed goes
to the server's log only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic_ai import (
    Agent,
    AgentRunResultEvent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    UserPromptPart,
)
from pydantic_ai.exceptions import AgentRunError
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import Model

from persistream.config import Settings
from persistream.generator import (
    ChatMessage,
    ModelError,
    PartEvent,
    ReasoningDelta,
    ToolCallDelta,
    ToolResult,
    Usage,
)


class AgentGenerator:
    """A persistream generator (a `PartsModel`) that answers with `agent`."""

    def __init__(self, agent: Agent[None, str], name: str = "pydantic-ai") -> None:
        self.agent = agent
        self.name = name

    async def stream_parts(
        self, messages: Sequence[ChatMessage], tools: Sequence[dict[str, Any]] | None = None
    ) -> AsyncIterator[PartEvent]:
        """Every part of one answer, as the agent's run produces it, then its usage."""
        instructions, history, prompt = agent_inputs(messages)
        try:
            async with self.agent.run_stream_events(
                prompt, message_history=history, instructions=instructions or None
            ) as events:
                async for event in events:
                    for part in parts_of(event):
                        yield part
        except AgentRunError as exc:
            # The exception's text can quote a provider's reply: the log gets it, users a short message.
            raise ModelError("The agent could not finish its answer.", detail=f"{type(exc).__name__}: {exc}") from exc

    async def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        """The answer's text alone, for a caller that reads only text."""
        async for part in self.stream_parts(messages):
            if isinstance(part, str):
                yield part


def parts_of(event: object) -> list[PartEvent]:
    """The persistream parts one agent event stands for (none for the events that say nothing new to a reader)."""
    if isinstance(event, PartStartEvent):
        if isinstance(event.part, TextPart) and event.part.content:
            return [event.part.content]
        if isinstance(event.part, ThinkingPart) and event.part.content:
            return [ReasoningDelta(event.part.content)]
    elif isinstance(event, PartDeltaEvent):
        if isinstance(event.delta, TextPartDelta) and event.delta.content_delta:
            return [event.delta.content_delta]
        if isinstance(event.delta, ThinkingPartDelta) and event.delta.content_delta:
            return [ReasoningDelta(event.delta.content_delta)]
    elif isinstance(event, FunctionToolCallEvent):
        # The call is whole by now (its arguments were streamed into the model's response): one part.
        call = event.part
        return [ToolCallDelta(call.tool_call_id, call.tool_name, call.args_as_json_str())]
    elif isinstance(event, FunctionToolResultEvent):
        result = event.part
        failed = result.outcome in ("failed", "retried")
        return [ToolResult(result.tool_call_id, result.tool_name, result.model_response_str(), is_error=failed)]
    elif isinstance(event, AgentRunResultEvent):
        usage = event.result.usage
        reasoning = usage.details.get("reasoning_tokens")
        return [Usage(usage.input_tokens, usage.output_tokens, reasoning)]
    return []


def agent_inputs(messages: Sequence[ChatMessage]) -> tuple[str, list[ModelMessage], str]:
    """persistream's conversation as the agent's instructions (the system prompt), message history (the earlier
    prompts and answers' text) and user prompt (the last message)."""
    instructions = "\n\n".join(m.content for m in messages if m.role == "system")
    turns = [m for m in messages if m.role in ("user", "assistant")]
    prompt = turns[-1].content if turns and turns[-1].role == "user" else ""
    history: list[ModelMessage] = []
    for message in turns[:-1] if prompt else turns:
        if message.role == "user":
            history.append(ModelRequest(parts=[UserPromptPart(content=message.content)]))
        else:
            history.append(ModelResponse(parts=[TextPart(content=message.content)]))
    return instructions, history, prompt


# --- an agent with two tools -------------------------------------------------------------------------------------

FORECASTS = {"paris": (18.5, "light rain"), "lisbon": (24.0, "sunny"), "oslo": (9.0, "cloudy")}


def weather_agent(model: Model | str) -> Agent[None, str]:
    """An agent that looks up a city's weather and converts temperatures: two tools it runs itself."""
    agent: Agent[None, str] = Agent(model, output_type=str)

    @agent.tool_plain
    def get_weather(city: str) -> dict[str, Any]:
        """Today's forecast for `city`: temperature in °C and the sky."""
        celsius, sky = FORECASTS.get(city.strip().lower(), (15.0, "unknown"))
        return {"city": city, "celsius": celsius, "sky": sky}

    @agent.tool_plain
    def to_fahrenheit(celsius: float) -> float:
        """`celsius` in °F."""
        return round(celsius * 9 / 5 + 32, 1)

    return agent


def from_settings(settings: Settings) -> AgentGenerator:
    """For PERSISTREAM_PROVIDER=pydantic_ai_agent:from_settings: the weather agent on PERSISTREAM_MODEL, through
    the OpenAI-compatible server of OPENAI_BASE_URL (or OpenAI) with OPENAI_API_KEY."""
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(base_url=settings.openai_base_url, api_key=settings.openai_api_key)
    return AgentGenerator(weather_agent(OpenAIChatModel(settings.model, provider=provider)))
