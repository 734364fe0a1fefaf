"""Parts over GraphQL, against a real server and the fake OpenAI server: a text-only answer is what it always was
(and is one TEXT part), the cursor resumes exactly after any event, a forged cursor is BAD_USER_INPUT, usage reaches
the final event, the body and `/metrics`, reasoning and tool calls become parts, and the settings of parts (tools,
their timeout and step limit, the first-token timeout) take effect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from persistream.engine import cursor
from persistream.engine.cursor import Position
from tests.conftest import ServerFactory, server_env
from tests.support.fake_openai import FakeOpenAI, Script, tool_call_deltas
from tests.support.gql import (
    CANCEL,
    GraphQLWS,
    SubscriptionError,
    check_events,
    done_body,
    gql_data,
    send,
)
from tests.support.metrics import scrape, value
from tests.support.net import free_port
from tests.support.server import ROOT, ServerProcess
from tests.support.streams import Tap, query_body, start_stream, unique, wait_until

Event = dict[str, Any]

EVENT_FIELDS = """streamId delta offset status error
  parts { index kind delta toolName toolCallId isError } cursor usage { inputTokens outputTokens reasoningTokens }"""
DRIVE = f"subscription($id: ID!) {{ streamChat(streamId: $id) {{ {EVENT_FIELDS} }} }}"
OBSERVE = f"""subscription($id: ID!, $cursor: String, $from: Int! = 0) {{
  streamBody(streamId: $id, fromOffset: $from, fromCursor: $cursor) {{ {EVENT_FIELDS} }} }}"""
BODY = """query($id: ID!) { streamBody(streamId: $id) { streamId text status error offset
  parts { index kind text toolName toolCallId isError } cursor usage { inputTokens outputTokens reasoningTokens } } }"""
# Code points of several widths: offsets count code points, never bytes or UTF-16 units.
TOKENS = ["Héllo", " wörld", ". 😀", " e\u0301", " 中文.", "\n", " Done!"]
USAGE = {"prompt_tokens": 12, "completion_tokens": 30, "completion_tokens_details": {"reasoning_tokens": 7}}
REPORTED = {"inputTokens": 12, "outputTokens": 30, "reasoningTokens": 7}
TOOLS_MODULE = '''
import asyncio


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


async def slow() -> str:
    """Never answers in time."""
    await asyncio.sleep(60)
    return "late"


def broken(reason: str) -> str:
    """Fails with the reason it is given."""
    raise RuntimeError(reason)


async def wait_forever(marker: str) -> str:
    """Writes `started` to the file `marker`, then waits; writes `cancelled` there when its task is cancelled."""
    with open(marker, "w") as f:
        f.write("started")
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        with open(marker, "w") as f:
            f.write("cancelled")
        raise
    return "never"

TOOLS = [add, slow, broken, wait_forever]
'''


def text_part(text: str) -> dict[str, Any]:
    return {"index": 0, "kind": "TEXT", "text": text, "toolName": None, "toolCallId": None, "isError": False}


def part(
    index: int, kind: str, text: str, name: str | None = None, call: str | None = None, error: bool = False
) -> dict[str, Any]:
    return {"index": index, "kind": kind, "text": text, "toolName": name, "toolCallId": call, "isError": error}


def text_delta(delta: str) -> dict[str, Any]:
    return {"index": 0, "kind": "TEXT", "delta": delta, "toolName": None, "toolCallId": None, "isError": False}


def assembled(events: list[Event], into: dict[int, dict[str, Any]] | None = None) -> dict[int, dict[str, Any]]:
    """Every part the events' `parts` deltas build (after those already `into` it), checking that a part's head
    never changes."""
    found = {} if into is None else {i: dict(p) for i, p in into.items()}
    for event in events:
        for delta in event["parts"]:
            head = {k: delta[k] for k in ("index", "kind", "toolName", "toolCallId", "isError")}
            if delta["index"] in found:
                known = found[delta["index"]]
                assert {k: known[k] for k in head} == head, (known, delta)
                known["text"] += delta["delta"]
            else:
                found[delta["index"]] = {**head, "text": delta["delta"]}
    return found


async def drive(server: ServerProcess, stream_id: str) -> list[Event]:
    async with GraphQLWS(server.graphql_ws) as client:
        return await Tap(client, DRIVE, {"id": stream_id}, "streamChat").result(timeout=30)


async def observe(server: ServerProcess, stream_id: str, from_cursor: str | None, **more: Any) -> list[Event]:
    async with GraphQLWS(server.graphql_ws) as client:
        variables = {"id": stream_id, "cursor": from_cursor, **more}
        return await Tap(client, OBSERVE, variables, "streamBody").result(timeout=30)


async def body(server: ServerProcess, stream_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await gql_data(server.graphql_http, BODY, {"id": stream_id}))["streamBody"]
    return found


# --- a text-only answer ---------------------------------------------------------------------------------------


async def test_a_text_only_answer_is_unchanged_and_one_text_part(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    stream_id, _ = await start_stream(server, fake_openai, Script(TOKENS, delay=0.01))
    async with GraphQLWS(server.graphql_ws) as driver_ws, GraphQLWS(server.graphql_ws) as observer_ws:
        legacy = Tap.observer(observer_ws, stream_id)  # a client that selects only what it always did
        await wait_until(lambda: bool(legacy.events))
        driven = await Tap(driver_ws, DRIVE, {"id": stream_id}, "streamChat").result()
        observed = await legacy.result()
    text = "".join(TOKENS)
    assert check_events(driven) == text
    assert check_events(observed) == text
    assert driven[-1]["status"] == "DONE"
    for event in driven:
        assert event["parts"] == ([text_delta(event["delta"])] if event["delta"] else [])
        assert event["usage"] is None  # the script reports no usage
        assert cursor.decode(stream_id, event["cursor"]).position == Position(0, event["offset"])
    assert await query_body(server, stream_id) == done_body(stream_id, text)  # byte for byte, offset in code points
    full = await body(server, stream_id)
    assert full["parts"] == [text_part(text)]
    assert full["usage"] is None
    assert cursor.decode(stream_id, full["cursor"]).position == Position(0, len(text))


async def test_an_empty_answer_has_no_part(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    stream_id, _ = await start_stream(server, fake_openai, Script([]))
    events = await drive(server, stream_id)
    assert check_events(events) == ""
    assert events[-1]["status"] == "DONE"
    assert all(event["parts"] == [] for event in events)
    found = await body(server, stream_id)
    assert (found["text"], found["parts"]) == ("", [])
    assert cursor.decode(stream_id, found["cursor"]).position == Position(0, 0)


# --- the cursor -----------------------------------------------------------------------------------------------


async def test_the_cursor_of_any_event_resumes_exactly_after_it(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    stream_id, _ = await start_stream(server, fake_openai, Script(TOKENS, delay=0.01))
    driven = await drive(server, stream_id)
    text = check_events(driven)
    for event in driven:
        rest = await observe(server, stream_id, event["cursor"])
        assert check_events(rest, event["offset"]) == text[event["offset"] :], event
        assert rest[-1]["status"] == "DONE"
    # The body's cursor stands after everything: nothing more comes, only the final status.
    after_all = await observe(server, stream_id, (await body(server, stream_id))["cursor"])
    assert [(e["delta"], e["parts"], e["status"]) for e in after_all] == [("", [], "DONE")]
    # With a cursor, fromOffset is ignored, whatever it says.
    first = driven[0]
    for offset in (0, 10_000, -1):
        rest = await observe(server, stream_id, first["cursor"], **{"from": offset})
        assert check_events(rest, first["offset"]) == text[first["offset"] :]


async def test_a_live_answer_resumes_from_a_cursor(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = [f" word{n}." for n in range(40)]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.02))
    async with GraphQLWS(server.graphql_ws) as driver_ws:
        driver = Tap(driver_ws, DRIVE, {"id": stream_id}, "streamChat")
        await wait_until(lambda: sum(bool(e["delta"]) for e in driver.events) >= 2 or driver.task.done())
        seen = next(e for e in driver.events if e["delta"])
        assert seen["status"] == "STREAMING"
        rest = await observe(server, stream_id, seen["cursor"])
        driven = await driver.result()
    text = check_events(driven)
    assert text == "".join(tokens)
    assert check_events(rest, seen["offset"]) == text[seen["offset"] :]


async def test_a_forged_cursor_is_bad_user_input(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    stream_id, _ = await start_stream(server, fake_openai, Script(TOKENS))
    other_id, _ = await start_stream(server, fake_openai, Script(TOKENS))
    real = (await body(server, stream_id))["cursor"]
    edited = real[:-2] + ("A" if real[-2] != "A" else "B") + real[-1]
    shifted = cursor.encode(stream_id, Position(0, 3))[:-1]
    forged = ["", "garbage", "x" * 65, "é", edited, shifted, (await body(server, other_id))["cursor"]]
    async with GraphQLWS(server.graphql_ws) as client:
        for bad in forged:
            with pytest.raises(SubscriptionError) as raised:
                async for _ in client.subscribe(OBSERVE, {"id": stream_id, "cursor": bad}):
                    pytest.fail(f"an event for the cursor {bad!r}")
            assert raised.value.code == "BAD_USER_INPUT", (bad, raised.value.errors)
            assert "fromCursor" in raised.value.errors[0]["message"]


# --- usage, reasoning, a tool call with no tools ---------------------------------------------------------------


async def test_usage_reaches_the_final_event_the_body_and_the_metric(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    before = await scrape(server)
    stream_id, _ = await start_stream(server, fake_openai, Script(TOKENS, usage=USAGE))
    driven = await drive(server, stream_id)
    assert check_events(driven) == "".join(TOKENS)
    assert driven[-1]["status"] == "DONE"
    assert driven[-1]["usage"] == REPORTED
    assert all(event["usage"] is None for event in driven[:-1])
    assert (await body(server, stream_id))["usage"] == REPORTED
    after = await scrape(server)
    counted = {
        kind: value(after, "persistream_model_tokens_total", kind=kind)
        - value(before, "persistream_model_tokens_total", kind=kind)
        for kind in ("input", "output", "reasoning")
    }
    assert counted == {"input": 12, "output": 30, "reasoning": 7}


async def test_reasoning_is_a_part_and_is_not_sent_back(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    deltas = [{"reasoning_content": "Let me"}, {"reasoning_content": " think."}]
    stream_id, name = await start_stream(server, fake_openai, Script([" The", " answer."], deltas=deltas))
    driven = await drive(server, stream_id)
    assert check_events(driven) == " The answer."
    assert [e["offset"] for e in driven if e["delta"]][-1] == len(" The answer.")
    expected = {0: part(0, "REASONING", "Let me think."), 1: part(1, "TEXT", " The answer.")}
    assert assembled(driven) == expected
    found = await body(server, stream_id)
    assert (found["text"], found["offset"]) == (" The answer.", len(" The answer."))
    assert found["parts"] == list(expected.values())
    # The next prompt of the thread sends the earlier answer back as its text alone.
    [first] = fake_openai.requests_for(name)
    assert first.body["stream_options"] == {"include_usage": True}
    follow_name = unique("follow")
    marker = fake_openai.add(follow_name, Script([" Sure."]))
    thread = await thread_of(server, stream_id)
    sent = await send(server.graphql_http, f"And then? {marker}", thread)
    await drive(server, sent["responseStreamId"])
    [request] = fake_openai.requests_for(follow_name)
    answers = [m for m in request.messages if m["role"] == "assistant"]
    assert answers == [{"role": "assistant", "content": " The answer."}]
    # History carries the parts too.
    history = """query($id: ID!) { messages(threadId: $id) { response { text parts { index kind text toolName
      toolCallId isError } } } }"""
    listed = (await gql_data(server.graphql_http, history, {"id": thread}))["messages"]
    assert listed[0]["response"] == {"text": " The answer.", "parts": list(expected.values())}


async def thread_of(server: ServerProcess, stream_id: str) -> str:
    threads = await gql_data(server.graphql_http, "{ threads(last: 50) { id messages { responseStreamId } } }")
    found = (t["id"] for t in threads["threads"] if any(m["responseStreamId"] == stream_id for m in t["messages"]))
    return str(next(found))


async def test_a_tool_call_with_no_tools_configured_ends_in_error(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    calls = tool_call_deltas([("call_x", "clock", "{}")])
    stream_id, _ = await start_stream(server, fake_openai, Script([], deltas=calls, finish_reason="tool_calls"))
    driven = await drive(server, stream_id)
    assert driven[-1]["status"] == "ERROR"
    assert driven[-1]["error"] == "The model asked for a tool, and none is configured."
    assert assembled(driven) == {0: part(0, "TOOL_CALL", "{}", "clock", "call_x")}
    found = await body(server, stream_id)
    assert (found["status"], found["text"], found["parts"]) == (
        "ERROR",
        "",
        [part(0, "TOOL_CALL", "{}", "clock", "call_x")],
    )


# --- tools ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tools_server(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[ServerProcess]:
    """A server whose tools come from a module the test writes, found on PYTHONPATH."""
    package = module_tmp / "tools"
    package.mkdir()
    (package / "parts_api_tools.py").write_text(TOOLS_MODULE, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(package), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = server_env(
        fake_openai,
        module_tmp / "tools.db",
        PERSISTREAM_TOOLS="parts_api_tools:TOOLS",
        PERSISTREAM_TOOL_TIMEOUT="1",
        PERSISTREAM_MAX_STEPS="3",
        PYTHONPATH=path,
    )
    process = ServerProcess(env, log_path=module_tmp / "tools-server.log").start()
    yield process
    process.stop()


async def test_a_two_step_answer_with_a_tool(tools_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    arguments = '{"a": 2, "b": 3}'
    answer = Script([" The sum", " is 5."], usage={"prompt_tokens": 20, "completion_tokens": 4})
    calls = tool_call_deltas([("call_1", "add", arguments)])
    first_step = Script(
        [], deltas=calls, finish_reason="tool_calls", usage={"prompt_tokens": 10, "completion_tokens": 6}, then=answer
    )
    stream_id, name = await start_stream(tools_server, fake_openai, first_step, prompt="What is 2 + 3?")
    driven = await drive(tools_server, stream_id)
    assert driven[-1]["status"] == "DONE", driven[-1]
    assert check_events(driven) == " The sum is 5."
    expected = {
        0: part(0, "TOOL_CALL", arguments, "add", "call_1"),
        1: part(1, "TOOL_RESULT", "5", "add", "call_1"),
        2: part(2, "TEXT", " The sum is 5."),
    }
    assert assembled(driven) == expected
    assert driven[-1]["usage"] == {"inputTokens": 30, "outputTokens": 10, "reasoningTokens": None}
    found = await body(tools_server, stream_id)
    assert (found["text"], found["parts"], found["usage"]) == (
        " The sum is 5.",
        list(expected.values()),
        driven[-1]["usage"],
    )
    # Whatever event a reader resumes after, it gets exactly the rest of every part.
    for n, event in enumerate(driven):
        rest = await observe(tools_server, stream_id, event["cursor"])
        assert assembled(rest, assembled(driven[: n + 1])) == expected, n
    # What the model was sent: the tool's schema, then its call and result.
    first, second = fake_openai.requests_for(name)
    for request in (first, second):
        tool = request.body["tools"][0]
        assert [t["function"]["name"] for t in request.body["tools"]] == ["add", "slow", "broken", "wait_forever"]
        assert tool["function"]["name"] == "add"
        assert tool["function"]["description"] == "Add two whole numbers."
        assert tool["function"]["parameters"]["required"] == ["a", "b"]
    assert second.body["messages"][-2:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "add", "arguments": arguments}}],
        },
        {"role": "tool", "content": "5", "tool_call_id": "call_1"},
    ]


async def test_a_tool_past_its_timeout_is_an_error_result(tools_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    calls = tool_call_deltas([("call_s", "slow", "{}")])
    script = Script([], deltas=calls, finish_reason="tool_calls", then=Script([" Too slow."]))
    stream_id, _ = await start_stream(tools_server, fake_openai, script)
    started = time.monotonic()
    driven = await drive(tools_server, stream_id)
    assert time.monotonic() - started < 15
    assert driven[-1]["status"] == "DONE"
    parts = assembled(driven)
    assert parts[1]["kind"] == "TOOL_RESULT" and parts[1]["isError"] is True
    assert "did not finish within 1 seconds" in parts[1]["text"]
    assert parts[2] == part(2, "TEXT", " Too slow.")


async def test_the_step_limit_ends_the_answer_in_error(tools_server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    always = Script(
        [], deltas=tool_call_deltas([("call_again", "add", '{"a": 1, "b": 1}')]), finish_reason="tool_calls"
    )
    stream_id, name = await start_stream(tools_server, fake_openai, always)
    driven = await drive(tools_server, stream_id)
    assert driven[-1]["status"] == "ERROR"
    assert "step limit" in driven[-1]["error"] and "3 model calls" in driven[-1]["error"]
    assert len(fake_openai.requests_for(name)) == 3
    kinds = [p["kind"] for p in assembled(driven).values()]
    assert kinds == ["TOOL_CALL", "TOOL_RESULT", "TOOL_CALL", "TOOL_RESULT", "TOOL_CALL"]


def test_tools_that_cannot_load_stop_the_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSISTREAM_", "OPENAI_"))}
    env.update(
        PERSISTREAM_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'never.db'}",
        PERSISTREAM_TOOLS="no_such_tools_module:TOOLS",
    )
    done = subprocess.run(
        [sys.executable, "-m", "persistream", "serve", "--port", str(free_port())],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 2, done.stderr
    assert "PERSISTREAM_TOOLS=no_such_tools_module:TOOLS" in done.stderr
    assert "does not import" in done.stderr
    assert "Traceback" not in done.stderr


# --- the first-token timeout ----------------------------------------------------------------------------------


async def test_the_first_token_timeout_bounds_the_silence_before_the_first_delta(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    server = make_server(PERSISTREAM_FIRST_TOKEN_TIMEOUT="1", PERSISTREAM_STREAM_TIMEOUT="30")
    stream_id, _ = await start_stream(server, fake_openai, Script([" never"], hang_after=0))
    started = time.monotonic()
    driven = await drive(server, stream_id)
    assert driven[-1]["status"] == "TIMEOUT"
    assert time.monotonic() - started < 10  # the first-token bound, not the 30 s between deltas


async def test_a_model_may_think_longer_than_the_stream_timeout_before_its_first_delta(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    server = make_server(PERSISTREAM_FIRST_TOKEN_TIMEOUT="30", PERSISTREAM_STREAM_TIMEOUT="1")
    script = Script([" Thought", " long."], first_delay=2.5)
    stream_id, _ = await start_stream(server, fake_openai, script)
    driven = await drive(server, stream_id)
    assert driven[-1]["status"] == "DONE", driven[-1]
    assert check_events(driven) == " Thought long."


async def test_a_tool_that_raises_is_an_error_result_the_model_reads(
    tools_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    calls = tool_call_deltas([("call_b", "broken", '{"reason": "the disk is full"}')])
    script = Script([], deltas=calls, finish_reason="tool_calls", then=Script([" It failed."]))
    stream_id, name = await start_stream(tools_server, fake_openai, script)
    driven = await drive(tools_server, stream_id)
    assert driven[-1]["status"] == "DONE"
    result = assembled(driven)[1]
    assert (result["kind"], result["isError"]) == ("TOOL_RESULT", True)
    assert "the disk is full" in result["text"] and "Traceback" not in result["text"]
    second = fake_openai.requests_for(name)[1]
    assert second.body["messages"][-1] == {"role": "tool", "content": result["text"], "tool_call_id": "call_b"}
    assert (await body(tools_server, stream_id))["parts"][1] == {**result}


@pytest.fixture(scope="module")
def patient_tools_server(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[ServerProcess]:
    """Tools with a long timeout: a cancel, not the timeout, ends the running tool."""
    package = module_tmp / "patient-tools"
    package.mkdir()
    (package / "parts_api_tools.py").write_text(TOOLS_MODULE, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(package), str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = server_env(fake_openai, module_tmp / "patient.db", PERSISTREAM_TOOLS="parts_api_tools:TOOLS", PYTHONPATH=path)
    process = ServerProcess(env, log_path=module_tmp / "patient-server.log").start()
    yield process
    process.stop()


async def test_cancel_during_a_tool_cancels_its_task_and_stores_cancelled(
    patient_tools_server: ServerProcess, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    marker = tmp_path / "tool-state"
    arguments = json.dumps({"marker": str(marker)})
    script = Script([], deltas=tool_call_deltas([("call_w", "wait_forever", arguments)]), finish_reason="tool_calls")
    stream_id, _ = await start_stream(patient_tools_server, fake_openai, script)
    async with GraphQLWS(patient_tools_server.graphql_ws) as client:
        driver = Tap(client, DRIVE, {"id": stream_id}, "streamChat")
        await wait_until(lambda: marker.exists() and marker.read_text() == "started", 15)
        cancelled = await gql_data(patient_tools_server.graphql_http, CANCEL, {"id": stream_id})
        driven = await driver.result(timeout=15)
    assert cancelled["cancelStream"]["status"] == "CANCELLED"
    assert driven[-1]["status"] == "CANCELLED"
    await wait_until(lambda: marker.read_text() == "cancelled", 5)
    found = await body(patient_tools_server, stream_id)
    assert found["status"] == "CANCELLED"
    assert found["parts"] == [part(0, "TOOL_CALL", arguments, "wait_forever", "call_w")]


async def test_reasoning_for_longer_than_the_stream_timeout_keeps_the_answer_alive(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    server = make_server(PERSISTREAM_STREAM_TIMEOUT="1", PERSISTREAM_FIRST_TOKEN_TIMEOUT="10")
    thinking = [{"reasoning_content": f"step {i}. "} for i in range(15)]  # 15 x 0.2 s = 3 s of reasoning
    script = Script([" Done."], delay=0.2, deltas=thinking)
    stream_id, _ = await start_stream(server, fake_openai, script)
    started = time.monotonic()
    driven = await drive(server, stream_id)
    assert time.monotonic() - started >= 3
    assert driven[-1]["status"] == "DONE", driven[-1]
    parts = assembled(driven)
    assert parts[0] == part(0, "REASONING", "".join(f"step {i}. " for i in range(15)))
    assert parts[1] == part(1, "TEXT", " Done.")


async def test_a_model_silent_after_its_first_delta_still_times_out(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    server = make_server(PERSISTREAM_STREAM_TIMEOUT="1", PERSISTREAM_FIRST_TOKEN_TIMEOUT="30")
    script = Script([" First.", " never"], hang_after=1)
    stream_id, _ = await start_stream(server, fake_openai, script)
    started = time.monotonic()
    driven = await drive(server, stream_id)
    assert driven[-1]["status"] == "TIMEOUT"
    assert time.monotonic() - started < 10  # the stream timeout after a delta, not the first-token bound
    assert check_events(driven) == " First."
