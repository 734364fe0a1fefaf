"""Your own generator behind `persistream serve`: `PERSISTREAM_PROVIDER=module:attribute`, a module this test writes
in a temporary folder on PYTHONPATH, streams text and parts end to end over GraphQL; a generator that raises (its
public message for a ModelError, a generic one for anything else), one that yields a wrong type, one that is silent;
a provider that does not import, or is no generator, stops `serve` with one line naming the variable. And
examples/custom_generator.py, served the same way."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import clean_env, command, run
from tests.e2e.test_parts_api import BODY, DRIVE, assembled, part
from tests.support.gql import GraphQLWS, gql_data, send
from tests.support.net import free_port
from tests.support.server import ROOT, ServerProcess, start_servers
from tests.support.streams import Tap, assert_clean_log

Event = dict[str, Any]

GENERATOR_MODULE = '''
import asyncio

from persistream.generator import ModelError, ReasoningDelta, ToolCallDelta, ToolResult, Usage


async def generator(messages):
    """What it does is chosen by the prompt's first word."""
    prompt = messages[-1].content
    word = prompt.split()[0]
    if word == "parts":
        yield ReasoningDelta("Looking it up.")
        yield ToolCallDelta("lookup-1", "Lookup", '{"key": ')
        yield ToolCallDelta("lookup-1", "Lookup", '"Città"}')
        await asyncio.sleep(0.01)
        yield ToolResult("lookup-1", "Lookup", '{"value": 42}')
        yield ToolCallDelta("lookup-2", "Lookup", '{"key": "missing"}')
        yield ToolResult("lookup-2", "Lookup", "no such key", is_error=True)
        for token in ["The ", "answer ", "is ", "42 ", "😀."]:
            yield token
        yield Usage(input_tokens=len(messages), output_tokens=5)
    elif word == "history":
        yield " | ".join(f"{m.role}:{m.content}:{len(m.parts)}" for m in messages)
    elif word == "refuse":
        yield "Partly. "
        raise ModelError("The lookup service is down.", detail="upstream said 503 at lookup.internal")
    elif word == "crash":
        yield "Partly. "
        raise KeyError("customer-secret-7731")
    elif word == "odd":
        yield "Partly. "
        yield 42
    elif word == "silent":
        yield "Partly. "
        await asyncio.sleep(60)
    else:
        yield prompt


class Settled:
    """A class taking the settings: its answer shows it was made with them."""

    def __init__(self, settings):
        self.name = "settled"
        self.model = settings.model

    async def stream(self, messages):
        yield f"made for {self.model}"


NOT_A_GENERATOR = {"name": "a dict"}
'''


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    """Three servers side by side: the test's generator function, its class, and examples/custom_generator.py."""
    folder = tmp_path_factory.mktemp("generators")
    (folder / "my_generators.py").write_text(GENERATOR_MODULE, encoding="utf-8")
    path = os.pathsep.join([str(folder), str(ROOT / "examples"), str(ROOT)])

    def server(name: str, provider: str) -> ServerProcess:
        env = {
            "PERSISTREAM_DATABASE_URL": f"sqlite+aiosqlite:///{folder / name}.db",
            "PERSISTREAM_PROVIDER": provider,
            "PERSISTREAM_MODEL": "Model-X",
            "PERSISTREAM_FLUSH_MS": "50",
            "PERSISTREAM_STREAM_TIMEOUT": "1.5",
            "PERSISTREAM_SHUTDOWN_GRACE": "2",
            "PYTHONPATH": path,
        }
        return ServerProcess(env, log_path=folder / f"{name}.log", cwd=folder)

    started = {
        "function": server("function", "my_generators:generator"),
        "class": server("class", "my_generators:Settled"),
        "example": server("example", "custom_generator:generate"),
    }
    start_servers(*started.values())
    yield started
    for process in started.values():
        process.stop()


async def answer(server: ServerProcess, prompt: str, thread: str | None = None) -> tuple[list[Event], Event]:
    """Send `prompt`, drive its answer to the end; (the driver's events, the stored body)."""
    message = await send(server.graphql_http, prompt, thread)
    async with GraphQLWS(server.graphql_ws) as client:
        events = await Tap(client, DRIVE, {"id": message["responseStreamId"]}, "streamChat").result(timeout=30)
    stored = (await gql_data(server.graphql_http, BODY, {"id": message["responseStreamId"]}))["streamBody"]
    return events, stored


async def test_an_import_string_streams_text_and_parts_end_to_end(servers: dict[str, ServerProcess]) -> None:
    server = servers["function"]
    events, stored = await answer(server, "parts please")
    expected = [
        part(0, "REASONING", "Looking it up."),
        part(1, "TOOL_CALL", '{"key": "Città"}', "Lookup", "lookup-1"),
        part(2, "TOOL_RESULT", '{"value": 42}', "Lookup", "lookup-1"),
        part(3, "TOOL_CALL", '{"key": "missing"}', "Lookup", "lookup-2"),
        part(4, "TOOL_RESULT", "no such key", "Lookup", "lookup-2", error=True),
        part(5, "TEXT", "The answer is 42 😀."),
    ]
    assert list(assembled(events).values()) == expected
    assert stored["parts"] == expected
    assert (stored["status"], stored["text"], stored["offset"]) == ("DONE", "The answer is 42 😀.", 19)
    assert events[-1]["usage"] == stored["usage"] == {"inputTokens": 2, "outputTokens": 5, "reasoningTokens": None}
    assert_clean_log(server)


async def test_the_generator_receives_the_branch_with_its_parts(servers: dict[str, ServerProcess]) -> None:
    server = servers["function"]
    first = await send(server.graphql_http, "parts again")
    async with GraphQLWS(server.graphql_ws) as client:
        await Tap(client, DRIVE, {"id": first["responseStreamId"]}, "streamChat").result(timeout=30)
    _, stored = await answer(server, "history now", first["threadId"])
    system, *rest = stored["text"].split(" | ")
    assert system.startswith("system:") and system.endswith(":0")
    # The earlier answer comes back as its text, with its six parts; the new prompt is last.
    assert rest == ["user:parts again:0", "assistant:The answer is 42 😀.:6", "user:history now:0"]


async def test_a_class_is_made_with_the_settings(servers: dict[str, ServerProcess]) -> None:
    _, stored = await answer(servers["class"], "hello")
    assert (stored["status"], stored["text"]) == ("DONE", "made for Model-X")


@pytest.mark.parametrize(
    ("prompt", "status", "error"),
    [
        ("refuse", "ERROR", "The lookup service is down."),
        ("crash", "ERROR", "The answer failed because of an unexpected error."),
        ("odd", "ERROR", "The answer failed: the generator yielded int, not text or a part."),
        ("silent", "TIMEOUT", "The generator sent nothing for 1.5 seconds."),
    ],
)
async def test_a_failing_generator_ends_in_the_error_users_may_see(
    servers: dict[str, ServerProcess], prompt: str, status: str, error: str
) -> None:
    server = servers["function"]
    events, stored = await answer(server, prompt)
    assert (events[-1]["status"], events[-1]["error"]) == (status, error)
    assert (stored["status"], stored["error"], stored["text"]) == (status, error, "Partly. ")
    log = server.log()
    assert "Traceback" not in log
    if prompt == "refuse":
        assert "upstream said 503 at lookup.internal" in log  # the detail is for the operator
    if prompt == "crash":
        assert "KeyError" in log


async def test_the_custom_generator_example_end_to_end(servers: dict[str, ServerProcess]) -> None:
    server = servers["example"]
    events, stored = await answer(server, "what is 12 * 7 + 1?")
    call = json.dumps({"expression": "12 * 7 + 1"})
    assert stored["status"] == "DONE"
    assert stored["parts"] == [
        part(0, "REASONING", "The prompt holds the expression 12 * 7 + 1; my calculate tool will work it out."),
        part(1, "TOOL_CALL", call, "calculate", stored["parts"][1]["toolCallId"]),
        part(2, "TOOL_RESULT", '{"result": 85}', "calculate", stored["parts"][1]["toolCallId"]),
        part(3, "TEXT", "12 * 7 + 1 = **85**. "),
    ]
    assert list(assembled(events).values()) == stored["parts"]
    assert stored["usage"]["outputTokens"] == 24 and stored["usage"]["inputTokens"] > 0
    # Its own tool, failing: an error result, and an answer that says so.
    _, failed = await answer(server, "what is 2 ** 1000?")
    assert [p["kind"] for p in failed["parts"]] == ["REASONING", "TOOL_CALL", "TOOL_RESULT", "TEXT"]
    assert failed["parts"][2]["isError"] and failed["parts"][2]["text"] == "cannot calculate: exponent too large"
    assert_clean_log(server)


WRONG_PROVIDERS = [
    ("no_such_module_anywhere:generator", "does not import"),
    ("my_generators:missing", "has no attribute 'missing'"),
    ("my_generators:NOT_A_GENERATOR", "expected a generator"),
]


async def test_a_provider_that_cannot_be_used_stops_serve_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / "my_generators.py").write_text(GENERATOR_MODULE, encoding="utf-8")

    async def attempt(provider: str, said: str) -> None:
        env = clean_env(
            PERSISTREAM_PROVIDER=provider,
            PERSISTREAM_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'never.db'}",
            PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
        )
        code, stdout, stderr = await run([*command(), "serve", "--port", str(free_port())], env, tmp_path)
        assert code == 2, (provider, stdout, stderr)
        assert stderr.startswith(f"persistream: configuration error: PERSISTREAM_PROVIDER={provider} "), stderr
        assert said in stderr, stderr
        assert "Traceback" not in stdout + stderr
        assert len(stderr.strip().splitlines()) == 1, stderr

    await asyncio.gather(*(attempt(provider, said) for provider, said in WRONG_PROVIDERS))
    assert not (tmp_path / "never.db").exists()
