"""What the scale tests do to servers: scripted answers, subscriptions recorded in the background, polling."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.fake_openai import FakeOpenAI, Recorded, Script
from tests.support.gql import BODY, CANCEL, FINAL, SEND, STREAM_BODY, STREAM_CHAT, GraphQLWS
from tests.support.server import ServerProcess

Event = dict[str, Any]


async def gql_data(url: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """One GraphQL request over plain HTTP; no TLS context is built (that costs about 0.1 s per client)."""
    async with httpx.AsyncClient(timeout=30, verify=False) as client:
        result = (await client.post(url, json={"query": query, "variables": variables})).json()
    assert not result.get("errors"), result
    data: dict[str, Any] = result["data"]
    return data


def sentence_tokens(count: int, tag: str = "w") -> list[str]:
    """`count` tokens with a sentence end every few, so chunks are cut all along the answer."""
    return [f" {tag}{i}" + ("." if i % 5 == 4 else "") for i in range(count)]


async def new_stream(server: ServerProcess, fake: FakeOpenAI, script: Script) -> tuple[str, str]:
    """Register `script` under a fresh name and send a prompt selecting it; (stream id, script name)."""
    name = f"scale-{uuid.uuid4().hex[:12]}"
    marker = fake.add(name, script)
    message = (await gql_data(server.graphql_http, SEND, {"prompt": f"Answer {marker}"}))["sendMessage"]
    return message["responseStreamId"], name


class Sub:
    """One subscription on its own connection, recording each event and when it arrived, until it ends."""

    def __init__(self, server: ServerProcess, stream_id: str, *, driver: bool = False, from_offset: int = 0) -> None:
        self.events: list[Event] = []
        self.arrived: list[float] = []
        self.ended_at: float | None = None
        self.error: BaseException | None = None
        self.field = "streamChat" if driver else "streamBody"
        query = STREAM_CHAT if driver else STREAM_BODY
        variables: dict[str, Any] = {"id": stream_id} if driver else {"id": stream_id, "from": from_offset}
        self.start = from_offset
        self.task = asyncio.create_task(self._run(server, query, variables))

    async def _run(self, server: ServerProcess, query: str, variables: dict[str, Any]) -> None:
        try:
            async with GraphQLWS(server.graphql_ws) as client:
                async for data in client.subscribe(query, variables, timeout=60):
                    self.events.append(data[self.field])
                    self.arrived.append(time.monotonic())
        except Exception as exc:  # recorded: a test asserts whether this subscription may fail
            self.error = exc
        finally:
            self.ended_at = time.monotonic()

    @property
    def text(self) -> str:
        return "".join(e["delta"] for e in self.events)

    @property
    def final(self) -> Event | None:
        return self.events[-1] if self.events and self.events[-1]["status"] in FINAL else None

    async def wait(self, timeout: float = 30.0) -> Sub:
        await asyncio.wait_for(asyncio.shield(self.task), timeout)
        return self

    async def until_text(self, length: int, timeout: float = 10.0) -> None:
        """Wait until this subscriber has received at least `length` characters."""
        await wait_until(lambda: len(self.text) >= length, timeout, what=f"{length} characters received")

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.01)


async def body(server: ServerProcess, stream_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await gql_data(server.graphql_http, BODY, {"id": stream_id}))["streamBody"]
    return result


async def cancel(server: ServerProcess, stream_id: str) -> dict[str, Any]:
    result: dict[str, Any] = (await gql_data(server.graphql_http, CANCEL, {"id": stream_id}))["cancelStream"]
    return result


async def health(server: ServerProcess) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5, verify=False) as client:
        result: dict[str, Any] = (await client.get(f"{server.url}/healthz")).json()
    return result


async def wait_health(server: ServerProcess, key: str, value: str, timeout: float = 10.0) -> float:
    """Poll /healthz until `key` reads `value`; when it did."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if (await health(server)).get(key) == value:
                return time.monotonic()
        if time.monotonic() > deadline:
            raise AssertionError(f"/healthz {key} not {value!r} within {timeout} s")
        await asyncio.sleep(0.05)


async def wait_closed(request: Recorded, timeout: float = 2.0) -> float:
    """When the fake model server saw the request's connection close."""
    await wait_until(lambda: request.closed_at is not None, timeout, what="model request closed")
    assert request.closed_at is not None
    return request.closed_at


def request_of(fake: FakeOpenAI, name: str) -> Recorded:
    requests = fake.requests_for(name)
    assert len(requests) == 1, f"{len(requests)} model requests for {name}"
    return requests[0]
