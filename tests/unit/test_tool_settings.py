"""The settings of parts: tools (an import string, loaded at start with an error naming the variable), the tool
timeout and step limit, and the first-token timeout; and the chat layer's choice of source for an answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from prometheus_client import REGISTRY

from persistream.chat.answers import AnswerSource, configured_tools
from persistream.config import ConfigError, Settings
from persistream.llm.base import ChatMessage, ModelError
from persistream.llm.tool_loop import NO_TOOLS
from persistream.parts import PartEvent, ReasoningDelta, ToolCallDelta, ToolResult, Usage


def clock() -> str:
    """The time."""
    return "noon"


TOOLS = [clock]


def test_the_defaults_are_the_contracts() -> None:
    settings = Settings.from_env({}, env_file=None)
    assert settings.tools is None
    assert (settings.tool_timeout, settings.max_steps, settings.first_token_timeout) == (30.0, 8, 600.0)


def test_the_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "PERSISTREAM_TOOLS": "tests.unit.test_tool_settings:TOOLS",
            "PERSISTREAM_TOOL_TIMEOUT": "2.5",
            "PERSISTREAM_MAX_STEPS": "3",
            "PERSISTREAM_FIRST_TOKEN_TIMEOUT": "900",
        },
        env_file=None,
    )
    assert settings.tools == "tests.unit.test_tool_settings:TOOLS"
    assert (settings.tool_timeout, settings.max_steps, settings.first_token_timeout) == (2.5, 3, 900.0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PERSISTREAM_TOOLS", "tests.unit.test_tool_settings"),
        ("PERSISTREAM_TOOLS", ":TOOLS"),
        ("PERSISTREAM_TOOLS", "tests/unit/test_tool_settings.py:TOOLS"),
        ("PERSISTREAM_TOOLS", "pkg.mod:"),
        ("PERSISTREAM_TOOL_TIMEOUT", "0"),
        ("PERSISTREAM_TOOL_TIMEOUT", "soon"),
        ("PERSISTREAM_MAX_STEPS", "0"),
        ("PERSISTREAM_MAX_STEPS", "1.5"),
        ("PERSISTREAM_FIRST_TOKEN_TIMEOUT", "0"),
        ("PERSISTREAM_FIRST_TOKEN_TIMEOUT", "-5"),
        ("PERSISTREAM_FIRST_TOKEN_TIMEOUT", "inf"),
    ],
)
def test_a_wrong_value_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({variable: value}, env_file=None)
    assert variable in str(raised.value)


def test_configured_tools_are_loaded() -> None:
    assert configured_tools(None) == []
    [tool] = configured_tools("tests.unit.test_tool_settings:TOOLS")
    assert (tool.name, tool.description) == ("clock", "The time.")


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("tests.unit.no_such_module:TOOLS", "does not import"),
        ("tests.unit.test_tool_settings:NOTHING", "has no attribute"),
        ("tests.unit.test_tool_settings:clock", "expected a list of functions"),
    ],
)
def test_tools_that_cannot_be_loaded_are_a_config_error_naming_the_variable(spec: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        configured_tools(spec)
    message = str(raised.value)
    assert message.startswith(f"PERSISTREAM_TOOLS={spec} ")
    assert says in message


# --- which source answers ------------------------------------------------------------------------------------


class TextModel:
    """The minimal generator: `stream` only."""

    name = "text"

    def stream(self, messages: Sequence[ChatMessage]) -> AsyncIterator[str]:
        async def tokens() -> AsyncIterator[str]:
            yield "plain"

        return tokens()

    async def aclose(self) -> None:
        pass


class PartsModel(TextModel):
    """Reasoning, then a clock call (while no tool result has come back), else text; then usage."""

    name = "parts"

    def __init__(self) -> None:
        self.requests: list[tuple[list[ChatMessage], Any]] = []
        self.closed = 0

    def stream_parts(self, messages: Sequence[ChatMessage], tools: Any = None) -> AsyncIterator[PartEvent]:
        self.requests.append((list(messages), tools))

        async def events() -> AsyncIterator[PartEvent]:
            try:
                yield ReasoningDelta("hmm")
                if tools and messages[-1].role != "tool":
                    yield ToolCallDelta("c1", "clock", "{}")
                else:
                    yield "It is noon."
                yield Usage(10, 5, 2)
            finally:
                self.closed += 1

        return events()


def tokens_counted(kind: str) -> float:
    return REGISTRY.get_sample_value("persistream_model_tokens_total", {"kind": kind}) or 0.0


async def test_a_text_only_model_streams_its_text() -> None:
    source = AnswerSource(TextModel(), configured_tools("tests.unit.test_tool_settings:TOOLS"))
    assert [e async for e in source.events([ChatMessage("user", "hi")])] == ["plain"]


async def test_a_parts_model_streams_every_part_and_its_usage_is_counted() -> None:
    model = PartsModel()
    before = {kind: tokens_counted(kind) for kind in ("input", "output", "reasoning")}
    events = [e async for e in AnswerSource(model).events([ChatMessage("user", "hi")])]
    assert events == [ReasoningDelta("hmm"), "It is noon.", Usage(10, 5, 2)]
    assert model.requests[0][1] is None  # no tools offered
    after = {kind: tokens_counted(kind) - before[kind] for kind in before}
    assert after == {"input": 10, "output": 5, "reasoning": 2}


async def test_with_tools_the_answer_runs_the_tool_loop() -> None:
    model = PartsModel()
    tools = configured_tools("tests.unit.test_tool_settings:TOOLS")
    before = tokens_counted("input")
    events = [e async for e in AnswerSource(model, tools, 5.0, 4).events([ChatMessage("user", "time?")])]
    assert events == [
        ReasoningDelta("hmm"),
        ToolCallDelta("c1", "clock", "{}"),
        ToolResult("c1", "clock", "noon"),
        ReasoningDelta("hmm"),
        "It is noon.",
        Usage(20, 10, 4),  # both model calls, summed
    ]
    assert [tool["function"]["name"] for tool in model.requests[0][1]] == ["clock"]
    assert tokens_counted("input") - before == 20


async def test_closing_the_answer_closes_the_models_stream() -> None:
    model = PartsModel()
    events = AnswerSource(model).events([ChatMessage("user", "hi")])
    assert await anext(events) == ReasoningDelta("hmm")
    await asyncio.wait_for(events.aclose(), 1)  # type: ignore[attr-defined]
    assert model.closed == 1


class CallingModel(TextModel):
    """A model that calls a tool whatever it is offered."""

    name = "calling"

    def stream_parts(self, messages: Sequence[ChatMessage], tools: Any = None) -> AsyncIterator[PartEvent]:
        async def events() -> AsyncIterator[PartEvent]:
            yield ToolCallDelta("c9", "clock", "{}")
            yield Usage(1, 1)

        return events()


async def test_a_tool_call_without_tools_is_an_error_after_its_parts() -> None:
    seen: list[PartEvent] = []
    with pytest.raises(ModelError) as raised:
        async for event in AnswerSource(CallingModel()).events([ChatMessage("user", "time?")]):
            seen.append(event)
    assert raised.value.user_message == NO_TOOLS
    assert seen == [ToolCallDelta("c9", "clock", "{}"), Usage(1, 1)]


async def test_a_source_that_answers_its_own_calls_is_no_error() -> None:
    class SelfAnswering(CallingModel):
        def stream_parts(self, messages: Sequence[ChatMessage], tools: Any = None) -> AsyncIterator[PartEvent]:
            async def events() -> AsyncIterator[PartEvent]:
                yield ToolCallDelta("c9", "clock", "{}")
                yield ToolResult("c9", "clock", "noon")
                yield "Noon."

            return events()

    events = [e async for e in AnswerSource(SelfAnswering()).events([ChatMessage("user", "time?")])]
    assert events[-1] == "Noon."
