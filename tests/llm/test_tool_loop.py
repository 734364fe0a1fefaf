"""The tool loop over the openai provider, the real SDK and a real socket to the fake server: a two-step answer and
the exact requests it makes, a tool that raises, one that hangs past its timeout, a cancel while a tool runs, the
step limit, and a tool call when no tool is configured."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from persistream.llm.base import ChatMessage, ModelError
from persistream.llm.tool_loop import NO_TOOLS, run_tool_loop
from persistream.llm.tools import Tool, make_tools
from persistream.parts import PartEvent, PartKind, ToolResult, Usage
from tests.llm.support import build_parts, collect, openai_model, usages
from tests.support.fake_openai import FakeOpenAI, Script, tool_call_deltas
from tests.support.streams import unique

WEATHER_ARGS = '{"city": "Paris"}'
USAGE_1 = {"prompt_tokens": 10, "completion_tokens": 5}
USAGE_2 = {"prompt_tokens": 20, "completion_tokens": 7, "completion_tokens_details": {"reasoning_tokens": 3}}
threads: list[str] = []


def get_weather(city: str) -> dict[str, str]:
    """The weather in a city.

    Only the first paragraph is the description."""
    threads.append(threading.current_thread().name)
    if city == "Atlantis":
        raise ValueError(f"no such city: {city}")
    return {"city": city, "sky": "sunny"}


def calls_weather(city: str, then: Script, call_id: str = "call_w1") -> Script:
    """A turn that calls get_weather for `city`, its arguments split over frames, followed by `then`."""
    args = json.dumps({"city": city})
    deltas = tool_call_deltas([(call_id, "get_weather", args)], pieces=3)
    return Script([], deltas=deltas, finish_reason="tool_calls", usage=USAGE_1, then=then)


async def run(fake: FakeOpenAI, script: Script, tools: list[Tool], **options: Any) -> tuple[list[PartEvent], str]:
    name = unique("loop")
    marker = fake.add(name, script)
    model = openai_model(fake)
    try:
        messages = [ChatMessage("system", "be brief"), ChatMessage("user", marker)]
        return await collect(run_tool_loop(model, messages, tools, **options)), name
    finally:
        await model.aclose()


async def test_two_steps_and_the_exact_requests(fake_openai: FakeOpenAI) -> None:
    answer = Script([" It is", " sunny."], usage=USAGE_2)
    tools = make_tools([get_weather])
    events, name = await run(fake_openai, calls_weather("Paris", answer), tools)
    result = '{"city":"Paris","sky":"sunny"}'
    assert [(p.kind, p.call_id, p.text, p.is_error) for p in build_parts(events)] == [
        (PartKind.TOOL_CALL, "call_w1", WEATHER_ARGS, False),
        (PartKind.TOOL_RESULT, "call_w1", result, False),
        (PartKind.TEXT, None, " It is sunny.", False),
    ]
    assert usages(events) == [Usage(30, 12, 3)] and events[-1] == Usage(30, 12, 3)
    assert threads[-1] != threading.main_thread().name  # a sync tool runs in a thread
    first, second = fake_openai.requests_for(name)
    marker = f"script({name})"
    asked = [{"role": "system", "content": "be brief"}, {"role": "user", "content": marker}]
    for request in (first, second):
        assert request.body["tools"] == [tools[0].schema()]
        assert request.body["stream_options"] == {"include_usage": True}
        assert request.body["stream"] is True
    assert first.body["messages"] == asked
    assert second.body["messages"] == [
        *asked,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_w1", "type": "function", "function": {"name": "get_weather", "arguments": WEATHER_ARGS}}
            ],
        },
        {"role": "tool", "content": result, "tool_call_id": "call_w1"},
    ]


async def test_several_calls_in_one_turn_run_in_order(fake_openai: FakeOpenAI) -> None:
    calls = [("c1", "get_weather", '{"city": "Paris"}'), ("c2", "get_weather", '{"city": "Oslo"}')]
    step = Script([], deltas=tool_call_deltas(calls, interleave=True), then=Script([" Both sunny."]))
    events, name = await run(fake_openai, step, make_tools([get_weather]))
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [(r.call_id, json.loads(r.text)["city"]) for r in results] == [("c1", "Paris"), ("c2", "Oslo")]
    second = fake_openai.requests_for(name)[1].body["messages"]
    assert [m.get("tool_call_id") for m in second[-2:]] == ["c1", "c2"]
    assert [c["id"] for c in second[-3]["tool_calls"]] == ["c1", "c2"]


async def test_a_tool_that_raises_is_an_error_result_and_the_answer_goes_on(fake_openai: FakeOpenAI) -> None:
    events, name = await run(fake_openai, calls_weather("Atlantis", Script([" Sorry."])), make_tools([get_weather]))
    (result,) = [e for e in events if isinstance(e, ToolResult)]
    assert result.is_error and result.text == "The tool get_weather failed: ValueError: no such city: Atlantis"
    assert "Traceback" not in result.text
    assert "".join(e for e in events if isinstance(e, str)) == " Sorry."
    tool_message = fake_openai.requests_for(name)[1].body["messages"][-1]
    assert tool_message == {"role": "tool", "content": result.text, "tool_call_id": "call_w1"}


async def test_arguments_that_do_not_fit_and_unknown_tools_are_error_results(fake_openai: FakeOpenAI) -> None:
    calls = [("c1", "get_weather", '{"city": 5}'), ("c2", "get_weather", "[1"), ("c3", "nope", "{}")]
    step = Script([], deltas=tool_call_deltas(calls), then=Script([" ok"]))
    events, _ = await run(fake_openai, step, make_tools([get_weather]))
    texts = [e.text for e in events if isinstance(e, ToolResult) and e.is_error]
    assert texts[0].startswith("The tool get_weather was not run: invalid arguments: city: Input should be a valid")
    assert texts[1].startswith("The tool get_weather was not run: the arguments are not JSON")
    assert texts[2] == "There is no tool named 'nope'."


async def test_a_tool_that_hangs_past_its_timeout(fake_openai: FakeOpenAI) -> None:
    cancelled = asyncio.Event()

    async def slow_lookup(query: str) -> str:
        """Never answers."""
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return query

    deltas = tool_call_deltas([("c1", "slow_lookup", '{"query": "x"}')])
    step = Script([], deltas=deltas, then=Script([" Gave up."]))
    events, _ = await run(fake_openai, step, make_tools([slow_lookup]), tool_timeout=0.2)
    (result,) = [e for e in events if isinstance(e, ToolResult)]
    assert result.is_error and result.text == "The tool slow_lookup did not finish within 0.2 seconds."
    assert cancelled.is_set()
    assert events[-1] == " Gave up."


async def test_cancelling_the_consumer_cancels_the_running_tool(fake_openai: FakeOpenAI) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def forever() -> str:
        """Runs until cancelled."""
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return ""

    name = unique("loop-cancel")
    marker = fake_openai.add(name, Script([], deltas=tool_call_deltas([("c1", "forever", "{}")])))
    model = openai_model(fake_openai)
    seen: list[PartEvent] = []

    async def consume() -> None:
        async for event in run_tool_loop(model, [ChatMessage("user", marker)], make_tools([forever])):
            seen.append(event)

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await model.aclose()
    assert cancelled.is_set()
    assert [(p.kind, p.call_id, p.text) for p in build_parts(seen)] == [(PartKind.TOOL_CALL, "c1", "{}")]
    assert len(fake_openai.requests_for(name)) == 1


async def test_the_step_limit(fake_openai: FakeOpenAI) -> None:
    always = calls_weather("Paris", then=Script([" never"]))
    always.then = always  # every request asks for the tool again
    name = unique("loop-limit")
    marker = fake_openai.add(name, always)
    model = openai_model(fake_openai)
    events: list[PartEvent] = []
    with pytest.raises(ModelError) as failure:
        async for event in run_tool_loop(model, [ChatMessage("user", marker)], make_tools([get_weather]), max_steps=3):
            events.append(event)
    await model.aclose()
    assert "step limit" in failure.value.user_message and "3 model calls" in failure.value.user_message
    assert len(fake_openai.requests_for(name)) == 3
    assert len([e for e in events if isinstance(e, ToolResult)]) == 2  # the third turn's call is not run
    assert usages(events) == [Usage(30, 15, None)]


async def test_a_tool_call_when_no_tool_is_configured(fake_openai: FakeOpenAI) -> None:
    name = unique("loop-none")
    marker = fake_openai.add(name, calls_weather("Paris", then=Script([" never"])))
    model = openai_model(fake_openai)
    events: list[PartEvent] = []
    with pytest.raises(ModelError) as failure:
        async for event in run_tool_loop(model, [ChatMessage("user", marker)], []):
            events.append(event)
    await model.aclose()
    assert failure.value.user_message == NO_TOOLS == "The model asked for a tool, and none is configured."
    assert [(p.kind, p.text) for p in build_parts(events)] == [(PartKind.TOOL_CALL, WEATHER_ARGS)]
    (request,) = fake_openai.requests_for(name)
    assert "tools" not in request.body


async def test_an_answer_without_tool_calls_is_one_step(fake_openai: FakeOpenAI) -> None:
    events, name = await run(fake_openai, Script([" Just", " text."], usage=USAGE_1), make_tools([get_weather]))
    assert events == [" Just", " text.", Usage(10, 5, None)]
    assert len(fake_openai.requests_for(name)) == 1
