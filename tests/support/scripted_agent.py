"""The weather agent of examples/pydantic_ai_agent.py on pydantic-ai's own `FunctionModel`: no network, and a script
that thinks, calls both tools one step at a time, and answers, slowly enough for a reader to reload mid-answer.

`PERSISTREAM_PROVIDER=tests.support.scripted_agent:generator` serves it (the repository on PYTHONPATH); a test runs
the same agent in its own process to know what it produces (`agent()`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaThinkingCalls, DeltaToolCall, DeltaToolCalls, FunctionModel
from pydantic_ai.models.function import DeltaThinkingPart as Thinking

from examples.pydantic_ai_agent import AgentGenerator, weather_agent

# Seconds between two deltas of the model: the answer takes about 30 of them.
DELAY = float(os.environ.get("SCRIPTED_AGENT_DELAY", "0.08"))


async def script(
    messages: list[ModelMessage], info: AgentInfo
) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
    """Step 1: think, then ask for the weather; step 2: say so, then convert; step 3: answer."""
    returns = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]
    if not returns:
        for piece in ["The user wants ", "the weather ", "in Paris; ", "get_weather ", "will tell."]:
            await asyncio.sleep(DELAY)
            yield {0: Thinking(content=piece)}
        await asyncio.sleep(DELAY)
        yield {1: DeltaToolCall(name="get_weather", json_args='{"city"', tool_call_id="call-weather")}
        for piece in [': "Par', 'is"}']:  # the arguments, streamed: a delta's name would be appended to the name
            await asyncio.sleep(DELAY)
            yield {1: DeltaToolCall(json_args=piece)}
    elif len(returns) == 1:
        for piece in ["It is ", "18.5 °C ", "in Paris; ", "converting ", "it. "]:
            await asyncio.sleep(DELAY)
            yield piece
        await asyncio.sleep(DELAY)
        yield {1: DeltaToolCall(name="to_fahrenheit", json_args='{"celsius": 18.5}', tool_call_id="call-convert")}
    else:
        for piece in ["Paris: ", "light rain, ", "18.5 °C ", "(65.3 °F). ", "Take ", "an ", "umbrella ", "☂."]:
            await asyncio.sleep(DELAY)
            yield piece


def agent() -> Agent[None, str]:
    return weather_agent(FunctionModel(stream_function=script, model_name="scripted"))


generator = AgentGenerator(agent())
