"""Minimal GraphQL clients for tests: HTTP via httpx, and graphql-transport-ws (or legacy graphql-ws) via the
`websockets` library, speaking the protocols frame by frame so the server's handling of them is what is tested."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import httpx
import websockets

STREAM_CHAT = """subscription($id: ID!) { streamChat(streamId: $id) { streamId delta offset status error } }"""
STREAM_BODY = """subscription($id: ID!, $from: Int! = 0) {
  streamBody(streamId: $id, fromOffset: $from) { streamId delta offset status error } }"""
SEND = """mutation($prompt: String!, $thread: ID) {
  sendMessage(prompt: $prompt, threadId: $thread) { id threadId responseStreamId createdAt prompt
    response { streamId text status error offset } } }"""
BODY = """query($id: ID!) { streamBody(streamId: $id) { streamId text status error offset } }"""
CANCEL = """mutation($id: ID!) { cancelStream(streamId: $id) { streamId text status error offset } }"""

FINAL = {"DONE", "ERROR", "TIMEOUT", "CANCELLED"}


async def gql(url: str, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    # Plain HTTP: no TLS context to build (about 0.1 s per client on a loaded machine).
    async with httpx.AsyncClient(timeout=30, verify=False) as client:
        response = await client.post(url, json={"query": query, "variables": variables or {}}, **kwargs)
    result: dict[str, Any] = response.json()
    return result


async def gql_data(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await gql(url, query, variables)
    assert not result.get("errors"), result
    data: dict[str, Any] = result["data"]
    return data


async def send(url: str, prompt: str, thread: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = (await gql_data(url, SEND, {"prompt": prompt, "thread": thread}))["sendMessage"]
    return message


async def refused_send(url: str, prompt: str, thread: str | None = None) -> dict[str, Any]:
    """A sendMessage the rate limit refuses: its one RATE_LIMITED error, which says when to retry."""
    result = await gql(url, SEND, {"prompt": prompt, "thread": thread})
    assert result.get("data") is None, result
    [error] = result["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", error
    assert isinstance(error["extensions"]["retryAfter"], int) and error["extensions"]["retryAfter"] >= 1, error
    return dict(error)


class SubscriptionError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def code(self) -> str | None:
        return self.errors[0].get("extensions", {}).get("code") if self.errors else None


class GraphQLWS:
    """One graphql-transport-ws connection; `subscribe` yields each `next` payload's data."""

    def __init__(
        self, url: str, *, legacy: bool = False, init_payload: dict[str, Any] | None = None, **connect_kwargs: Any
    ) -> None:
        self.url = url
        self.legacy = legacy
        self.init_payload = init_payload or {}
        self.connect_kwargs = connect_kwargs
        self._ids = itertools.count(1)
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.ws: Any = None

    async def __aenter__(self) -> Self:
        protocol = "graphql-ws" if self.legacy else "graphql-transport-ws"
        self.ws = await websockets.connect(self.url, subprotocols=[protocol], **self.connect_kwargs)  # type: ignore[list-item]
        await self.ws.send(json.dumps({"type": "connection_init", "payload": self.init_payload}))
        while True:
            ack = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if ack["type"] == "connection_ack":
                break
            assert ack["type"] in ("ka", "ping"), ack
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.ws.close()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                    continue
                queue = self._queues.get(message.get("id", ""))
                if queue is not None:
                    queue.put_nowait(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            for queue in self._queues.values():
                queue.put_nowait({"type": "__closed__"})

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, *, timeout: float = 30.0
    ) -> AsyncIterator[dict[str, Any]]:
        op_id = str(next(self._ids))
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues[op_id] = queue
        start = "start" if self.legacy else "subscribe"
        await self.ws.send(
            json.dumps({"id": op_id, "type": start, "payload": {"query": query, "variables": variables or {}}})
        )
        completed = False
        try:
            while True:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the cancel of a caller
                # that stops following the subscription.
                async with asyncio.timeout(timeout):
                    message = await queue.get()
                kind = message["type"]
                if kind in ("next", "data"):
                    payload = message["payload"]
                    if payload.get("errors"):
                        raise SubscriptionError(payload["errors"])
                    yield payload["data"]
                elif kind == "error":
                    payload = message["payload"]
                    raise SubscriptionError(payload if isinstance(payload, list) else [payload])
                elif kind == "complete":
                    completed = True
                    return
                elif kind == "__closed__":
                    raise ConnectionError("socket closed")
        finally:
            self._queues.pop(op_id, None)
            if not completed and not self.ws.close_code:
                stop = "stop" if self.legacy else "complete"
                with contextlib.suppress(websockets.ConnectionClosed):
                    await self.ws.send(json.dumps({"id": op_id, "type": stop}))


async def collect(events: AsyncIterator[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    """Every event of a subscription until it completes."""
    return [data[field] async for data in events]


def done_body(stream_id: str, text: str) -> dict[str, Any]:
    """The `streamBody` a stream that ended DONE with `text` must return."""
    return {"streamId": stream_id, "text": text, "status": "DONE", "error": None, "offset": len(text)}


def check_events(events: list[dict[str, Any]], start: int = 0) -> str:
    """The text a subscriber assembled, after checking the contract's event invariants."""
    assert events, "no events"
    text_len = start
    text = ""
    for event in events[:-1]:
        assert event["status"] not in FINAL, events
    assert events[-1]["status"] in FINAL, events[-1]
    for event in events:
        text += event["delta"]
        text_len += len(event["delta"])
        if event is not events[-1]:
            assert event["offset"] == text_len, (event, text_len)
    last = events[-1]
    if last["offset"] < text_len:  # the stream ended shorter than where the subscriber stood
        assert last["delta"] == ""
        text = text[: max(0, last["offset"] - start)]
    else:
        assert last["offset"] == text_len, (last, text_len)
    offsets = [e["offset"] for e in events[:-1]]
    assert offsets == sorted(offsets), offsets
    return text
