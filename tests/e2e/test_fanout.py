"""Fan-out through a real server: many observers over both subprotocols, frames rendered once and shared, and a
socket that stops reading among them.

- observers of one stream with the same document get, for each shared event, byte-identical frames but for their
  own operation id (graphql-transport-ws `next`, graphql-ws `data`), and each one's events follow the contract;
- a client that stops reading does not hold back the others; when it reads again it still gets exactly the
  stored text (it fell behind, so it caught up from the database) and the final status.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import websockets

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import FINAL, STREAM_BODY, check_events
from tests.support.server import ServerProcess
from tests.support.streams import query_body, start_stream, wait_final


class RawObserver:
    """One socket, one streamBody subscription, every text frame kept as received."""

    def __init__(self, url: str, stream_id: str, *, legacy: bool, op_id: str, **connect: Any) -> None:
        self.url, self.stream_id, self.legacy, self.op_id, self.connect = url, stream_id, legacy, op_id, connect
        self.frames: list[str] = []
        self.ws: Any = None

    async def open(self) -> None:
        protocol = "graphql-ws" if self.legacy else "graphql-transport-ws"
        self.ws = await websockets.connect(self.url, subprotocols=[protocol], **self.connect)  # type: ignore[list-item]
        await self.ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        while json.loads(await self.ws.recv())["type"] != "connection_ack":
            pass
        await self.ws.send(
            json.dumps(
                {
                    "id": self.op_id,
                    "type": "start" if self.legacy else "subscribe",
                    "payload": {"query": STREAM_BODY, "variables": {"id": self.stream_id}},
                }
            )
        )

    async def read_to_end(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        async for frame in self.ws:
            message = json.loads(frame)
            if message["type"] in ("ka", "ping", "pong"):
                continue
            self.frames.append(str(frame))
            if message["type"] == "complete":
                break
            assert message["type"] == ("data" if self.legacy else "next"), message
            assert message["id"] == self.op_id
            events.append(message["payload"]["data"]["streamBody"])
        await self.ws.close()
        return events


def without_id(frame: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(frame)
    message.pop("id")
    return message


async def test_observers_on_both_protocols_get_shared_frames_with_their_own_ids(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    rng = random.Random()
    tokens = [f"line {i} {'é😀' * rng.randint(0, 3)}\n" for i in range(30)]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.02))
    observers = [
        RawObserver(server.graphql_ws, stream_id, legacy=i % 2 == 1, op_id=f"op-{i}-{rng.randrange(1000)}")
        for i in range(8)
    ]
    for observer in observers:
        await observer.open()
    readers = [asyncio.create_task(o.read_to_end()) for o in observers]
    await asyncio.sleep(0.3)  # every subscription is in place before the stream starts
    async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as driver:  # type: ignore[list-item]
        await driver.send(json.dumps({"type": "connection_init", "payload": {}}))
        await driver.recv()
        chat = "subscription($id: ID!) { streamChat(streamId: $id) { delta status } }"
        await driver.send(
            json.dumps({"id": "d", "type": "subscribe", "payload": {"query": chat, "variables": {"id": stream_id}}})
        )
        async for frame in driver:
            if json.loads(frame)["type"] == "complete":
                break
    results = [await asyncio.wait_for(r, 20) for r in readers]
    body = await query_body(server, stream_id)
    assert body["status"] == "DONE"
    for events in results:
        assert check_events(events) == body["text"] == "".join(tokens)
        assert events[-1]["status"] == "DONE"
    # Same document, variables and events: the same bytes apart from the id, within each protocol and across them.
    by_protocol = {False: [o for o in observers if not o.legacy], True: [o for o in observers if o.legacy]}
    for group in by_protocol.values():
        reference = group[0]
        for other in group[1:]:
            if len(other.frames) == len(reference.frames):  # same steps (none fell behind)
                for mine, theirs in zip(other.frames, reference.frames, strict=True):
                    assert without_id(mine) == without_id(theirs)
                    assert mine.replace(f'"{other.op_id}"', "ID") == theirs.replace(f'"{reference.op_id}"', "ID")
    assert len({o.op_id for o in observers}) == len(observers)
    modern, legacy = by_protocol[False][0], by_protocol[True][0]
    assert [without_id(f)["payload"] for f in modern.frames[:-1]] == [
        without_id(f)["payload"] for f in legacy.frames[:-1]
    ]


async def test_a_socket_that_stops_reading_does_not_delay_the_others(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    # Long lines, many of them: far more than the socket buffers and the stalled observer's queue hold.
    tokens = [f"{i:04d} " + "x" * 3000 + ".\n" for i in range(400)]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.002))
    # max_queue=1 and a small read limit: the client stops taking frames off the socket once one is waiting.
    stalled = RawObserver(server.graphql_ws, stream_id, legacy=False, op_id="stalled", max_queue=1)
    await stalled.open()
    others = [RawObserver(server.graphql_ws, stream_id, legacy=i % 2 == 1, op_id=f"o{i}") for i in range(6)]
    for observer in others:
        await observer.open()
    readers = [asyncio.create_task(o.read_to_end()) for o in others]
    await asyncio.sleep(0.3)
    async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as driver:  # type: ignore[list-item]
        await driver.send(json.dumps({"type": "connection_init", "payload": {}}))
        await driver.recv()
        chat = "subscription($id: ID!) { streamChat(streamId: $id) { status } }"
        await driver.send(
            json.dumps({"id": "d", "type": "subscribe", "payload": {"query": chat, "variables": {"id": stream_id}}})
        )
        started = asyncio.get_running_loop().time()
        # The others finish while the stalled socket has read nothing since its subscription.
        results = [await asyncio.wait_for(r, 30) for r in readers]
        others_done = asyncio.get_running_loop().time() - started
    body = await wait_final(server, stream_id)
    expected = "".join(tokens)
    assert body["text"] == expected and body["status"] == "DONE"
    for events in results:
        assert check_events(events) == expected
    # Now it reads again: exactly the stored text and the final status, though far behind.
    late = await asyncio.wait_for(stalled.read_to_end(), 30)
    assert check_events(late) == expected
    assert late[-1]["status"] in FINAL
    assert others_done < 25, others_done
