"""`persistream ask` end to end, as a user's shell runs it against a real server: exactly the answer's text on
standard output, the thread id on standard error, exit 0 on DONE and 1 otherwise, `--thread` continues a thread,
a connection dropped mid-answer (a TCP proxy that cuts every socket) still yields the exact text, and `--reasoning`
puts the reasoning and the tool calls on standard error, standard output staying the answer alone."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cuttable_proxy import CuttableProxy
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import gql_data
from tests.support.rounds import rounds
from tests.support.server import ServerProcess
from tests.support.streams import unique, wait_until
from tests.support.tools_server import ARGUMENTS, start_tools_server, two_step

THREAD_LINE = re.compile(r"^thread: ([0-9a-f-]{36})$", re.MULTILINE)
MESSAGES = """query($t: ID!) { messages(threadId: $t, last: 10) { prompt threadId
  response { text status } } }"""


class Ask:
    """One `persistream ask` process; its standard output is read as it comes."""

    def __init__(self, *args: str) -> None:
        self.args = [sys.executable, "-m", "persistream", "ask", *args]
        self.stdout = b""
        self.stderr = b""
        self.returncode: int | None = None

    async def run(self, timeout: float = 60) -> Ask:
        # Nothing of the server's configuration may leak into the client: run it with a clean environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSISTREAM_", "OPENAI_"))}
        process = await asyncio.create_subprocess_exec(
            *self.args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None and process.stderr is not None

        async def read_out() -> None:
            assert process.stdout is not None
            while chunk := await process.stdout.read(4096):
                self.stdout += chunk

        async def read_err() -> None:
            assert process.stderr is not None
            while chunk := await process.stderr.read(4096):
                self.stderr += chunk

        try:
            await asyncio.wait_for(asyncio.gather(read_out(), read_err(), process.wait()), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"ask did not exit within {timeout} s: {self.stderr!r}") from None
        self.returncode = process.returncode
        return self

    def thread_id_seen(self) -> bool:
        return THREAD_LINE.search(self.stderr.decode()) is not None

    @property
    def thread_id(self) -> str:
        match = THREAD_LINE.search(self.stderr.decode())
        assert match, self.stderr
        return match.group(1)


def prompt_for(fake: FakeOpenAI, script: Script, name: str) -> tuple[str, str]:
    name = unique(name)
    return f"Tell me {fake.add(name, script)}", name


async def thread_messages(server: ServerProcess, thread_id: str) -> list[dict[str, object]]:
    messages: list[dict[str, object]] = (await gql_data(server.graphql_http, MESSAGES, {"t": thread_id}))["messages"]
    return messages


async def test_ask_prints_exactly_the_answer_and_the_thread_id(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = ["Hello", " 🎉", " world", ".\n", "Second", " line", " 𝄞", " done", "."]
    prompt, name = prompt_for(fake_openai, Script(tokens, delay=0.01), "ask")

    ask = await Ask(prompt, "--url", server.graphql_http).run()

    assert ask.returncode == 0, ask.stderr
    assert ask.stdout.decode("utf-8") == "".join(tokens)  # nothing added: no newline, no label
    messages = await thread_messages(server, ask.thread_id)
    assert messages == [
        {"prompt": prompt, "threadId": ask.thread_id, "response": {"text": "".join(tokens), "status": "DONE"}}
    ]
    assert len(fake_openai.requests_for(name)) == 1


async def test_ask_exits_1_with_the_status_when_the_model_fails(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = ["Partial", " answer", " then", " failure"]
    prompt, _ = prompt_for(fake_openai, Script(tokens, delay=0.01, error_after=2), "askerr")

    ask = await Ask(prompt, "--url", server.graphql_http).run()

    assert ask.returncode == 1
    stored = (await thread_messages(server, ask.thread_id))[0]["response"]
    assert isinstance(stored, dict) and stored["status"] == "ERROR"
    assert ask.stdout.decode() == stored["text"] == "Partial answer"  # what was persisted, exactly
    err = ask.stderr.decode()
    assert "ERROR" in err and "Traceback" not in err


async def test_ask_thread_continues_a_thread(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    first_prompt, _ = prompt_for(fake_openai, Script(["First", "."]), "t1")
    first = await Ask(first_prompt, "--url", server.graphql_http).run()
    assert first.returncode == 0, first.stderr
    second_prompt, name = prompt_for(fake_openai, Script(["Second", "."]), "t2")

    second = await Ask(second_prompt, "--url", server.graphql_http, "--thread", first.thread_id).run()

    assert second.returncode == 0, second.stderr
    assert second.thread_id == first.thread_id
    assert second.stdout == b"Second."
    messages = await thread_messages(server, first.thread_id)
    assert [m["prompt"] for m in messages] == [first_prompt, second_prompt]
    # The model was given the thread's earlier turn as context.
    context = fake_openai.requests_for(name)[0].messages
    assert any(m.get("content") == "First." for m in context), context


async def test_ask_refusals_exit_1_with_the_reason(server: ServerProcess) -> None:
    unknown = await Ask("Hi", "--url", server.graphql_http, "--thread", "00000000-0000-4000-8000-000000000000").run()
    assert unknown.returncode == 1 and unknown.stdout == b""
    assert "NOT_FOUND" in unknown.stderr.decode()
    empty = await Ask("   ", "--url", server.graphql_http).run()
    assert empty.returncode == 1 and "BAD_USER_INPUT" in empty.stderr.decode()
    nobody = await Ask("Hi", "--url", "http://127.0.0.1:9/graphql").run()
    assert nobody.returncode == 1 and "cannot reach" in nobody.stderr.decode()
    assert "Traceback" not in nobody.stderr.decode()


@pytest.fixture
def proxy(server: ServerProcess) -> Iterator[CuttableProxy]:
    cuttable = CuttableProxy(server.port).start()
    yield cuttable
    cuttable.stop()


ROUNDS = rounds(2, 3)  # each round new random cuts; more with PERSISTREAM_LONG_TESTS=1


async def test_ask_resumes_after_dropped_connections(
    server: ServerProcess, fake_openai: FakeOpenAI, proxy: CuttableProxy
) -> None:
    """Every socket is cut twice at random points of the answer (the first cut may come before any text), the
    second time refusing reconnects for a second; over several rounds, the printed text is always exact."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for round_ in range(ROUNDS):
        tokens = [f"tok{i} " for i in range(50)] + ["🎉 end."]
        prompt, name = prompt_for(fake_openai, Script(tokens, delay=0.02), "askcut")
        ask = Ask(prompt, "--url", f"{proxy.url}/graphql")
        connections = proxy.connections
        running = asyncio.create_task(ask.run())
        first, second = rng.randrange(0, 120), rng.randrange(20, 120)
        where = f"seed {seed}, round {round_}: cuts after {first} and {first + second} bytes"

        await wait_until(lambda: (ask.thread_id_seen() and len(ask.stdout) >= first) or running.done(), 20)  # noqa: B023
        proxy.cut()
        seen = len(ask.stdout)
        await wait_until(lambda: len(ask.stdout) >= seen + second or running.done(), 20)  # noqa: B023
        proxy.cut(refuse_for=1.0)
        await running

        assert ask.returncode == 0, (where, ask.stderr)
        assert ask.stdout.decode() == "".join(tokens), where  # no character repeated, none lost
        assert proxy.connections - connections >= 3, where  # the mutation, then at least two subscriptions
        assert len(fake_openai.requests_for(name)) == 1, where


async def test_ctrl_c_stops_following_but_not_the_answer(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = [f"w{i} " for i in range(40)]
    prompt, name = prompt_for(fake_openai, Script(tokens, delay=0.03), "askint")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSISTREAM_", "OPENAI_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "persistream", "ask", prompt, "--url", server.graphql_http,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    first = await asyncio.wait_for(process.stdout.read(5), 20)
    assert first  # it is printing the answer
    process.send_signal(signal.SIGINT)
    _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 130
    assert "Traceback" not in stderr.decode()
    thread_id = THREAD_LINE.search(stderr.decode())
    assert thread_id
    # The server finishes the answer and keeps it in the thread.
    for _ in range(200):
        messages = await thread_messages(server, thread_id.group(1))
        response = messages[0]["response"]
        assert isinstance(response, dict)
        if response["status"] != "STREAMING":
            break
        await asyncio.sleep(0.05)
    assert response == {"text": "".join(tokens), "status": "DONE"}
    assert len(fake_openai.requests_for(name)) == 1


@pytest.fixture(scope="module")
def tools_server(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[ServerProcess]:
    process = start_tools_server(fake_openai, module_tmp)
    yield process
    process.stop()


async def test_ask_reasoning_puts_reasoning_and_tools_on_stderr(
    tools_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    prompt, name = prompt_for(fake_openai, two_step(["Let me", " add.\n", "Done."], ["The sum", " is 5."]), "askr")

    ask = await Ask(prompt, "--url", tools_server.graphql_http, "--reasoning").run()

    assert ask.returncode == 0, ask.stderr
    assert ask.stdout.decode() == "The sum is 5."  # the answer alone
    assert ask.stderr.decode() == (
        f"thread: {ask.thread_id}\n"
        "reasoning: Let me add.\nDone.\n"  # as it streamed, its part ended by a line end
        f"tool call add: {ARGUMENTS}\n"
        "tool result add: 5\n"
    )
    assert len(fake_openai.requests_for(name)) == 2


async def test_ask_without_reasoning_prints_what_it_printed_before(
    tools_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    prompt, _ = prompt_for(fake_openai, two_step(["Let me", " add."], ["The sum", " is 5."]), "asknor")

    ask = await Ask(prompt, "--url", tools_server.graphql_http).run()

    assert ask.returncode == 0, ask.stderr
    assert ask.stdout.decode() == "The sum is 5."
    assert ask.stderr.decode() == f"thread: {ask.thread_id}\n"


async def test_ask_help_describes_reasoning() -> None:
    help_ = await Ask("--help").run()
    assert help_.returncode == 0
    text = " ".join(help_.stdout.decode().split())
    assert "--reasoning" in text and "stdout stays the answer alone" in text
