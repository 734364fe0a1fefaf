"""Building blocks for end-to-end stream tests: scripted streams, subscriptions that record what they see while
the test acts on them, and polling on conditions (never fixed sleeps)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import websockets

from tests.support.fake_openai import SECRET_KEY, FakeOpenAI, Recorded, Script
from tests.support.gql import BODY, FINAL, STREAM_BODY, STREAM_CHAT, GraphQLWS, check_events, gql_data, send
from tests.support.server import ServerProcess

Event = dict[str, Any]


def unique(name: str) -> str:
    """A script name no other test (the fake server is shared by the session) will use."""
    return f"{name}-{uuid.uuid4().hex[:10]}"


async def start_stream(
    server: ServerProcess, fake: FakeOpenAI, script: Script, *, name: str = "s", prompt: str = "Answer"
) -> tuple[str, str]:
    """Register `script` under a fresh name and send a prompt that selects it; (stream id, script name)."""
    name = unique(name)
    marker = fake.add(name, script)
    message = await send(server.graphql_http, f"{prompt} {marker}")
    assert message["response"]["status"] == "PENDING", message
    return message["responseStreamId"], name


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


async def wait_closed(request: Recorded, timeout: float = 2.0) -> float:
    """When the fake model server saw the request's connection close."""
    await wait_until(lambda: request.closed_at is not None, timeout)
    assert request.closed_at is not None
    return request.closed_at


async def query_body(server: ServerProcess, stream_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await gql_data(server.graphql_http, BODY, {"id": stream_id}))["streamBody"]
    return body


async def wait_final(server: ServerProcess, stream_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the streamBody query until the stream is final; its body."""
    deadline = time.monotonic() + timeout
    while True:
        body = await query_body(server, stream_id)
        if body["status"] in FINAL:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"stream {stream_id} still {body['status']} after {timeout} s")
        await asyncio.sleep(0.02)


class Tap:
    """One subscription running in the background, recording each event (and when it came) as it arrives."""

    def __init__(self, client: GraphQLWS, query: str, variables: dict[str, Any], field: str) -> None:
        self.events: list[Event] = []
        self.arrived: list[float] = []
        self._field = field
        self.task = asyncio.create_task(self._run(client, query, variables))

    @classmethod
    def driver(cls, client: GraphQLWS, stream_id: str) -> Tap:
        return cls(client, STREAM_CHAT, {"id": stream_id}, "streamChat")

    @classmethod
    def observer(cls, client: GraphQLWS, stream_id: str, from_offset: int = 0) -> Tap:
        return cls(client, STREAM_BODY, {"id": stream_id, "from": from_offset}, "streamBody")

    async def _run(self, client: GraphQLWS, query: str, variables: dict[str, Any]) -> None:
        async for data in client.subscribe(query, variables):
            self.events.append(data[self._field])
            self.arrived.append(time.monotonic())

    @property
    def text(self) -> str:
        """Every delta received so far, concatenated (before any final cut)."""
        return "".join(e["delta"] for e in self.events)

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1]["status"] in FINAL

    async def until_started(self, timeout: float = 10.0) -> None:
        """Wait for the first event (for a driver: the stream is claimed)."""
        await wait_until(lambda: bool(self.events) or self.task.done(), timeout)
        assert self.events, "the subscription ended without an event"

    async def until_text(self, length: int, timeout: float = 10.0) -> None:
        await wait_until(lambda: len(self.text) >= length or self.task.done(), timeout)
        assert len(self.text) >= length, self.events

    async def leave(self) -> None:
        """Stop listening (the client sends `complete`, or `stop` on the legacy protocol), keeping the socket."""
        while not self.task.done():
            # Python 3.11's wait_for can swallow a cancel that lands as its queue read completes: insist.
            self.task.cancel()
            await asyncio.wait({self.task}, timeout=0.1)

    async def result(self, timeout: float = 15.0) -> list[Event]:
        """All events, once the subscription has completed."""
        await asyncio.wait_for(self.task, timeout)
        return self.events


def assert_user_safe(message: str | None) -> None:
    """An error text fit for an end user: present, no secret, no stack trace."""
    assert message, "an error status must say why"
    for leak in (SECRET_KEY, "sk-", "Traceback", 'File "'):
        assert leak not in message, message


def assert_clean_log(server: ServerProcess) -> None:
    log = server.log()
    assert SECRET_KEY not in log
    assert "Traceback" not in log


class FrameLog:
    """A graphql-transport-ws connection driven frame by frame, recording every message it receives and when:
    for checks on what the server sends outside the protocol's happy path (after a `complete`, say)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[tuple[float, dict[str, Any]]] = []
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._ws = await websockets.connect(self.url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")])
        await self.send({"type": "connection_init", "payload": {}})
        while json.loads(await asyncio.wait_for(self._ws.recv(), 10))["type"] != "connection_ack":
            pass
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self._ws.close()

    async def _read(self) -> None:
        async for raw in self._ws:
            message = json.loads(raw)
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
            self.received.append((time.monotonic(), message))

    async def send(self, message: dict[str, Any]) -> None:
        await self._ws.send(json.dumps(message))

    async def until_next(self, op_id: str, timeout: float = 10.0) -> None:
        """Wait for the first `next` of `op_id`."""
        await wait_until(lambda: self.nexts(op_id) > 0, timeout)

    def nexts(self, op_id: str, after: float = 0.0) -> int:
        """How many `next` messages for `op_id` arrived after `after`."""
        return sum(1 for at, m in self.received if at > after and m.get("type") == "next" and m.get("id") == op_id)


async def ask(
    server: ServerProcess, fake: FakeOpenAI, tokens: list[str], prompt: str, thread: str | None = None
) -> tuple[dict[str, Any], str]:
    """Send `prompt` (answered by `tokens`) and drive it to the end; (message, script name)."""
    name = unique("h")
    marker = fake.add(name, Script(tokens))
    message = await send(server.graphql_http, f"{prompt} {marker}", thread)
    async with GraphQLWS(server.graphql_ws) as client:
        events = await Tap.driver(client, message["responseStreamId"]).result()
    assert check_events(events) == "".join(tokens)
    assert events[-1]["status"] == "DONE"
    return message, name


def sent_to_model(fake: FakeOpenAI, name: str) -> list[tuple[str, str]]:
    [request] = fake.requests_for(name)
    return [(m["role"], m["content"]) for m in request.messages]
