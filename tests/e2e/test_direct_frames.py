"""Subscription events written straight to the socket (persistream/resolvers/direct.py), on a real server: over
both WebSocket protocols, drivers' and observers' events leave by the direct path (the server's own count of
frames by path says so), each frame is byte for byte what Strawberry's encoder writes, in order, with its
operation's id, and the operation still ends with `complete`; an event whose result is an error still goes through
Strawberry with its code; a client that leaves mid-answer costs the others nothing."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import websockets

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import STREAM_BODY, STREAM_CHAT, GraphQLWS, SubscriptionError, check_events
from tests.support.metrics import scrape, value
from tests.support.server import ServerProcess
from tests.support.streams import start_stream

FRAMES = "persistream_subscription_frames_total"


async def raw_subscription(url: str, legacy: bool, op_id: str, query: str, variables: dict[str, Any]) -> list[str]:
    """Every frame of one operation on a socket of its own, as the text the server sent, up to `complete`."""
    protocol = "graphql-ws" if legacy else "graphql-transport-ws"
    frames: list[str] = []
    async with websockets.connect(url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        start = "start" if legacy else "subscribe"
        await ws.send(json.dumps({"id": op_id, "type": start, "payload": {"query": query, "variables": variables}}))
        async with asyncio.timeout(30):
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] in ("connection_ack", "ka", "ping"):
                    if message["type"] == "ping":
                        await ws.send(json.dumps({"type": "pong"}))
                    continue
                frames.append(str(raw))
                if message["type"] in ("complete", "error"):
                    return frames
    raise AssertionError("the socket closed before the operation completed")


def check_frames(frames: list[str], op_id: str, kind: str, field: str) -> str:
    """The frames are Strawberry's encoding of their messages, for this operation, ending with `complete`; the text."""
    messages = [json.loads(f) for f in frames]
    for frame, message in zip(frames, messages, strict=True):
        assert frame == json.dumps(message, separators=(",", ":")), frame
        assert message["id"] == op_id
    assert [m["type"] for m in messages[:-1]] == [kind] * (len(messages) - 1)
    assert messages[-1]["type"] == "complete"
    keys = list(messages[0])
    assert keys == (["id", "type", "payload"] if kind == "next" else ["type", "id", "payload"]), keys
    return check_events([m["payload"]["data"][field] for m in messages[:-1]])


async def test_events_leave_directly_as_strawberry_would_write_them(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    tokens = [f" w{i}" + rng.choice(["", ".", "\n"]) for i in range(40)]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.01))
    before = await scrape(server)
    watchers = [
        asyncio.create_task(raw_subscription(server.graphql_ws, legacy, f"obs-{i}", STREAM_BODY, {"id": stream_id}))
        for i, legacy in enumerate([False, True, False, True])
    ]
    await asyncio.sleep(rng.uniform(0, 0.2))
    driver = await raw_subscription(server.graphql_ws, rng.random() < 0.5, "drv", STREAM_CHAT, {"id": stream_id})
    observed = [await w for w in watchers]

    expected = "".join(tokens)
    driver_kind = json.loads(driver[0])["type"]
    assert check_frames(driver, "drv", driver_kind, "streamChat") == expected, seed
    for i, frames in enumerate(observed):
        kind = "data" if i % 2 else "next"
        assert check_frames(frames, f"obs-{i}", kind, "streamBody") == expected, seed
        assert json.loads(frames[-2])["payload"]["data"]["streamBody"]["status"] == "DONE"

    after = await scrape(server)
    sent = len(driver) - 1 + sum(len(f) - 1 for f in observed)
    direct = value(after, FRAMES, path="direct") - value(before, FRAMES, path="direct")
    through = value(after, FRAMES, path="strawberry") - value(before, FRAMES, path="strawberry")
    # Other tests share this server: the counts may include theirs, never fewer than these frames.
    assert direct >= sent, (direct, sent, seed)
    assert through < sent, (through, sent, seed)


async def test_errors_still_go_through_strawberry_with_their_code(server: ServerProcess) -> None:
    before = await scrape(server)
    unknown = "123e4567-e89b-12d3-a456-426614174000"
    for legacy in (False, True):
        async with GraphQLWS(server.graphql_ws, legacy=legacy) as client:
            try:
                async for _ in client.subscribe(STREAM_BODY, {"id": unknown}):
                    raise AssertionError("an event of a stream that does not exist")
            except SubscriptionError as error:
                assert error.code == "NOT_FOUND", error.errors
            else:
                raise AssertionError("no error")
    after = await scrape(server)
    assert value(after, FRAMES, path="strawberry") - value(before, FRAMES, path="strawberry") >= 2


async def test_a_client_leaving_mid_answer_costs_the_others_nothing(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    tokens = [f" t{i}\n" for i in range(60)]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.01))
    staying = asyncio.create_task(raw_subscription(server.graphql_ws, False, "stay", STREAM_BODY, {"id": stream_id}))
    async with GraphQLWS(server.graphql_ws) as leaving, GraphQLWS(server.graphql_ws) as driver:
        first_seen = asyncio.Event()

        async def leave() -> None:
            async for event in leaving.subscribe(STREAM_BODY, {"id": stream_id}):
                if event["streamBody"]["delta"]:
                    first_seen.set()

        leaver = asyncio.create_task(leave())
        driven = asyncio.create_task(check_driver(driver, stream_id))
        await asyncio.wait_for(first_seen.wait(), 20)
        await leaving.ws.close()  # mid-answer, without completing its operation
        leaver.cancel()
        assert await driven == "".join(tokens)
    assert check_frames(await staying, "stay", "next", "streamBody") == "".join(tokens)
    # The leaver's operation ended quietly: a client gone is not a server failure.
    assert "Traceback" not in server.log()


async def check_driver(client: GraphQLWS, stream_id: str) -> str:
    return check_events([e["streamChat"] async for e in client.subscribe(STREAM_CHAT, {"id": stream_id})])
