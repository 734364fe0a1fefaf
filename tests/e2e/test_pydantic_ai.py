"""examples/pydantic_ai_agent.py behind `persistream serve`: a pydantic-ai agent with two tools (on pydantic-ai's own
FunctionModel, offline), driven through the GraphQL API. Every tool call and result is a part, the stored parts are
what the agent produced (its messages, read from a run of the same agent in this process), and a reader that reloads
mid-answer resumes by cursor and receives the rest exactly once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import AgentRunResultEvent
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ThinkingPart, ToolCallPart, ToolReturnPart

from tests.e2e.test_parts_api import BODY, DRIVE, OBSERVE, assembled, part
from tests.support.gql import GraphQLWS, gql_data, send
from tests.support.scripted_agent import agent
from tests.support.server import ROOT, ServerProcess
from tests.support.streams import Tap, assert_clean_log, wait_until

Event = dict[str, Any]
PROMPT = "What is the weather in Paris, in both units?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("pydantic-ai")
    env = {
        "PERSISTREAM_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'agent.db'}",
        "PERSISTREAM_PROVIDER": "tests.support.scripted_agent:generator",
        "PERSISTREAM_FLUSH_MS": "50",
        "PERSISTREAM_SHUTDOWN_GRACE": "2",
        "PYTHONPATH": str(ROOT),
    }
    process = ServerProcess(env, log_path=folder / "server.log").start()
    yield process
    process.stop()


async def produced_by_the_agent() -> list[dict[str, Any]]:
    """The parts a run of the same agent produces, read from its messages (not from its events): thinking, text, tool
    calls and returns, in order, a text or thinking part that follows one of its kind growing it (as in persistream)."""
    async with agent().run_stream_events(PROMPT) as events:
        [result] = [event.result async for event in events if isinstance(event, AgentRunResultEvent)]
    found: list[dict[str, Any]] = []

    def add(kind: str, text: str, name: str | None = None, call: str | None = None, error: bool = False) -> None:
        if found and kind in ("TEXT", "REASONING") and found[-1]["kind"] == kind:
            found[-1]["text"] += text
        else:
            found.append(part(len(found), kind, text, name, call, error))

    for message in result.all_messages():
        for piece in message.parts:
            if isinstance(message, ModelResponse) and isinstance(piece, ThinkingPart):
                add("REASONING", piece.content)
            elif isinstance(message, ModelResponse) and isinstance(piece, TextPart):
                add("TEXT", piece.content)
            elif isinstance(piece, ToolCallPart):
                add("TOOL_CALL", piece.args_as_json_str(), piece.tool_name, piece.tool_call_id)
            elif isinstance(message, ModelRequest) and isinstance(piece, ToolReturnPart):
                failed = piece.outcome in ("failed", "retried")
                add("TOOL_RESULT", piece.model_response_str(), piece.tool_name, piece.tool_call_id, failed)
    return found


async def test_the_agent_driven_through_graphql(server: ServerProcess) -> None:
    message = await send(server.graphql_http, PROMPT)
    stream_id = message["responseStreamId"]
    async with GraphQLWS(server.graphql_ws) as client:
        driven = await Tap(client, DRIVE, {"id": stream_id}, "streamChat").result(timeout=30)
    stored = (await gql_data(server.graphql_http, BODY, {"id": stream_id}))["streamBody"]
    assert list(assembled(driven).values()) == stored["parts"]
    kinds = [p["kind"] for p in stored["parts"]]
    assert kinds == ["REASONING", "TOOL_CALL", "TOOL_RESULT", "TEXT", "TOOL_CALL", "TOOL_RESULT", "TEXT"], kinds
    # Every tool call and result is a part, and the parts are exactly what the agent produced.
    assert stored["parts"] == await produced_by_the_agent()
    assert stored["parts"][2]["text"] == '{"city":"Paris","celsius":18.5,"sky":"light rain"}'
    assert stored["parts"][5]["text"] == "65.3"
    said = "It is 18.5 °C in Paris; converting it. Paris: light rain, 18.5 °C (65.3 °F). Take an umbrella ☂."
    assert stored["text"] == said
    usage = stored["usage"]
    assert usage["inputTokens"] > 0 and usage["outputTokens"] > 0, usage
    assert driven[-1]["usage"] == usage
    assert_clean_log(server)


async def test_a_reload_mid_answer_resumes_by_cursor_and_receives_the_rest_once(server: ServerProcess) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    expected = await produced_by_the_agent()
    mid_answer = 0
    for round_ in range(4):
        message = await send(server.graphql_http, PROMPT)
        stream_id = message["responseStreamId"]
        # The reload comes after a random number of the driver's events, and a random moment after it.
        after = rng.randint(1, 16)
        async with GraphQLWS(server.graphql_ws) as first_tab:
            driver = Tap(first_tab, DRIVE, {"id": stream_id}, "streamChat")
            await wait_until(lambda tap=driver, n=after: len(tap.events) >= n or tap.task.done(), timeout=30)
            await asyncio.sleep(rng.uniform(0, 0.1))
            await driver.leave()
        seen = list(driver.events)
        where = f"seed {seed}, round {round_}, after {len(seen)} events"
        if seen[-1]["status"] != "STREAMING":
            continue  # it ended first: nothing left to resume
        mid_answer += 1
        async with GraphQLWS(server.graphql_ws) as second_tab:
            variables = {"id": stream_id, "cursor": seen[-1]["cursor"]}
            rest = await Tap(second_tab, OBSERVE, variables, "streamBody").result(30)
        assert rest[-1]["status"] == "DONE", (where, rest[-1])
        # What the two tabs saw together is the whole answer, each character once (a repeat would lengthen a part).
        resumed = list(assembled(rest, into=assembled(seen)).values())
        assert resumed == expected, where
    assert mid_answer >= 2, f"seed {seed}: only {mid_answer} of 4 reloads came mid-answer"


async def test_the_agent_continues_a_thread_with_its_history(server: ServerProcess, tmp_path: Path) -> None:
    first = await send(server.graphql_http, PROMPT)
    async with GraphQLWS(server.graphql_ws) as client:
        await Tap(client, DRIVE, {"id": first["responseStreamId"]}, "streamChat").result(timeout=30)
        second = await send(server.graphql_http, "And tomorrow?", first["threadId"])
        events = await Tap(client, DRIVE, {"id": second["responseStreamId"]}, "streamChat").result(timeout=30)
    # The scripted model answers from the tool returns of this run only: the earlier turn reached the agent as
    # history (text), not as tool returns, so the second answer calls both tools again.
    assert events[-1]["status"] == "DONE", events[-1]
    kinds = [p["kind"] for p in assembled(events).values()]
    assert kinds.count("TOOL_CALL") == 2 and kinds.count("TOOL_RESULT") == 2, kinds
