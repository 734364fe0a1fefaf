"""PersistreamClient and parts, against a real server whose fake model reasons, calls a tool and reports usage:
events and bodies carry parts, cursor and usage; through a proxy that cuts the socket in the middle of a part, a
driver and an observer resume by cursor and end with exactly the stored parts (seeded rounds); a text-only answer
is what it was."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from persistream.client import Part, PartDelta, PartsAssembler, PersistreamClient, StreamBody, StreamEvent, Usage
from tests.support.cuttable_proxy import CuttableProxy
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.server import ServerProcess
from tests.support.streams import unique
from tests.support.tools_server import ARGUMENTS, start_tools_server, two_step

REASONING = [f"thought{i} " for i in range(20)]
ANSWER = [f" word{i}" for i in range(20)] + [" 🎉."]
EXPECTED = (
    Part(0, "REASONING", "".join(REASONING)),
    Part(1, "TOOL_CALL", ARGUMENTS, "add", "call_add"),
    Part(2, "TOOL_RESULT", "5", "add", "call_add"),
    Part(3, "TEXT", "".join(ANSWER)),
)
USAGE = Usage(input_tokens=40, output_tokens=8 + len(ANSWER), reasoning_tokens=5)
ROUNDS = 3


@pytest.fixture(scope="module")
def tools_server(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[ServerProcess]:
    process = start_tools_server(fake_openai, module_tmp)
    yield process
    process.stop()


@pytest.fixture
def proxy(tools_server: ServerProcess) -> Iterator[CuttableProxy]:
    cuttable = CuttableProxy(tools_server.port).start()
    yield cuttable
    cuttable.stop()


async def test_events_and_bodies_carry_parts_cursor_and_usage(
    tools_server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    name = unique("pyparts")
    async with PersistreamClient(tools_server.graphql_http) as client:
        message = await client.send_message(f"Sum? {fake_openai.add(name, two_step(REASONING, ANSWER, pieces=4))}")
        collected = await client.collect(message.stream_id, drive=True)
        body = await client.body(message.stream_id)
        # An observer from the body's cursor gets nothing more: only the final status.
        after = [e async for e in client.follow(message.stream_id, from_cursor=body.cursor)]
    assert (
        body
        == collected
        == StreamBody(
            message.stream_id, "".join(ANSWER), len("".join(ANSWER)), "DONE", None, EXPECTED, body.cursor, USAGE
        )
    )
    assert [(e.delta, e.parts, e.status) for e in after] == [("", (), "DONE")]
    assert len(fake_openai.requests_for(name)) == 2  # the tool loop's two model calls, no more


async def test_a_text_only_answer_is_one_text_part(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = ["Plain", " text", " 🎉."]
    name = unique("pyplain")
    async with PersistreamClient(server.graphql_http) as client:
        message = await client.send_message(f"Go {fake_openai.add(name, Script(tokens, delay=0.01))}")
        events = [e async for e in client.follow(message.stream_id, drive=True)]
        body = await client.body(message.stream_id)
    text = "".join(tokens)
    assert "".join(e.delta for e in events) == body.text == text
    for event in events:
        assert event.parts == ((PartDelta(0, "TEXT", event.delta),) if event.delta else ()), event
    assert (body.parts, body.usage, events[-1].usage) == ((Part(0, "TEXT", text),), None, None)


def where_we_are(assembler: PartsAssembler) -> str:
    parts = assembler.parts
    return f"in {parts[-1].kind} part {parts[-1].index} at {len(parts[-1].text)}" if parts else "before any part"


async def follow_and_cut(
    client: PersistreamClient, stream_id: str, drive: bool, cuts: list[int], proxy: CuttableProxy, rng: random.Random
) -> tuple[list[StreamEvent], PartsAssembler, list[str]]:
    """Follow the stream, cutting every socket of the proxy after the `cuts`-th events; what was seen, and where
    each cut fell."""
    events: list[StreamEvent] = []
    assembler = PartsAssembler()
    fell: list[str] = []
    async for event in client.follow(stream_id, drive=drive):
        events.append(event)
        assembler.add(event.parts)
        if cuts and len(events) >= cuts[0] and not event.final:
            cuts.pop(0)
            fell.append(where_we_are(assembler))
            proxy.cut(refuse_for=rng.choice([0.0, 0.2]))
    return events, assembler, fell


async def test_driver_and_observer_resume_by_cursor_through_cuts_mid_part(
    tools_server: ServerProcess, fake_openai: FakeOpenAI, proxy: CuttableProxy
) -> None:
    """The proxy cuts every socket at random events of the answer: while it reasons, writes the tool call, or
    answers. The driver and an observer each resume from the cursor they hold, and each ends with exactly the
    stored parts, text and usage: nothing of any part twice, nothing lost, and the model is never asked again."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for round_ in range(ROUNDS):
        name = unique("pycut")
        script = two_step(REASONING, ANSWER, pieces=12, delay=0.02)
        async with (
            PersistreamClient(f"{proxy.url}/graphql", backoff=0.05) as driver,
            PersistreamClient(f"{proxy.url}/graphql", backoff=0.05) as observer,
        ):
            message = await driver.send_message(f"Sum? {fake_openai.add(name, script)}")
            connections = proxy.connections
            # The driver's first events are the reasoning's, the middle ones the call's, the last ones the answer's;
            # an observer sees fewer, larger events (one per flush).
            driven, observed = await asyncio.gather(
                follow_and_cut(driver, message.stream_id, True, sorted(rng.sample(range(1, 50), 3)), proxy, rng),
                follow_and_cut(observer, message.stream_id, False, sorted(rng.sample(range(1, 12), 2)), proxy, rng),
            )
        async with PersistreamClient(tools_server.graphql_http) as direct:
            body = await direct.body(message.stream_id)
        for who, (events, assembler, fell) in (("driver", driven), ("observer", observed)):
            where = f"seed {seed}, round {round_}, {who}, cuts {fell}"
            assert assembler.parts == body.parts == EXPECTED, where
            assert "".join(e.delta for e in events) == body.text == "".join(ANSWER), where
            assert (events[-1].status, events[-1].usage, events[-1].cursor) == ("DONE", USAGE, body.cursor), where
            offsets = [e.offset for e in events]
            assert offsets == sorted(offsets), where
        assert proxy.connections - connections >= 3, f"seed {seed}, round {round_}: no cut took effect"
        assert len(fake_openai.requests_for(name)) == 2, f"seed {seed}, round {round_}"
