"""A small client for programs that talk to a running persistream server: send a prompt, follow its answer as the
driver or as an observer, resume after a dropped connection, cancel.

    async with PersistreamClient("http://127.0.0.1:8000/graphql") as client:
        message = await client.send_message("Hello")
        async for event in client.follow(message.stream_id, drive=True):
            print(event.delta, end="", flush=True)

Mutations and queries go over HTTP (httpx, which keeps the cookies an `anonymous` server sets); subscriptions go
over WebSocket (`graphql-transport-ws`, with the `websockets` package), carrying the same cookies and headers. It
imports nothing of the server, so a program that only consumes a server pulls in neither the database nor the model
libraries' code paths.

Messages carry their place in the thread's tree (`parent_id`, `sibling_ids`); `regenerate`, `edit_message`,
`branch` and `send_message(parent_id=...)` work on it (persistream.client_branches). Threads are listed, read,
deleted and shared by persistream.client_threads's operations; `share_token=` reads a shared thread's answers.

Events and bodies carry the answer's parts (reasoning, tool calls and results beside the text), the cursor after
them and the model's usage; `delta`, `offset` and `text` carry the TEXT parts only, as they always did. A dropped
subscription resumes from the cursor it holds (`streamBody(fromCursor:)`: nothing of any part twice or lost), or,
before it holds one, from its offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncGenerator, Mapping
from types import TracebackType
from typing import Any, Self

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from persistream.client_branches import BranchOperations, Message
from persistream.client_parts import (
    DELTA_FIELDS,
    KNOWN_KINDS,
    PART_FIELDS,
    USAGE_FIELDS,
    Part,
    PartDelta,
    PartsAssembler,
    Usage,
)
from persistream.client_threads import Share, Thread, ThreadOperations, Viewer
from persistream.client_types import (
    FINAL_STATUSES,
    ConnectionLost,
    PersistreamError,
    StreamBody,
    StreamEvent,
    body_from,
    event_from,
)
from persistream.retry import Backoff, GaveUp, Retrying

__all__ = [
    "DEFAULT_URL",
    "FINAL_STATUSES",
    "KNOWN_KINDS",
    "ConnectionLost",
    "Message",
    "Part",
    "PartDelta",
    "PartsAssembler",
    "PersistreamClient",
    "PersistreamError",
    "Share",
    "StreamBody",
    "StreamEvent",
    "Thread",
    "Usage",
    "Viewer",
]

DEFAULT_URL = "http://127.0.0.1:8000/graphql"

_EVENT_FIELDS = f"streamId delta offset status error {DELTA_FIELDS} cursor {USAGE_FIELDS}"
_BODY_FIELDS = f"streamId text offset status error {PART_FIELDS} cursor {USAGE_FIELDS}"
_STREAM_CHAT = f"subscription($id: ID!) {{ streamChat(streamId: $id) {{ {_EVENT_FIELDS} }} }}"
_STREAM_BODY = f"""subscription($id: ID!, $from: Int!, $cursor: String, $share: String) {{
  streamBody(streamId: $id, fromOffset: $from, fromCursor: $cursor, shareToken: $share) {{ {_EVENT_FIELDS} }} }}"""
_BODY = f"query($id: ID!, $share: String) {{ streamBody(streamId: $id, shareToken: $share) {{ {_BODY_FIELDS} }} }}"
_CANCEL = f"mutation($id: ID!) {{ cancelStream(streamId: $id) {{ {_BODY_FIELDS} }} }}"


_REFUSALS: dict[int, str | None] = {4403: "UNAUTHENTICATED", 4400: None, 4406: None}


class _Dropped(Exception):
    """The WebSocket went away (or never opened): resume from the held cursor (or offset)."""


class PersistreamClient(BranchOperations, ThreadOperations):
    """One server. `token` is sent as `Authorization: Bearer ...` (HTTP, the WebSocket upgrade and its
    `connection_init`); `headers` go on every request (a proxy's user header, say). After a dropped connection a
    subscription resumes from the cursor (or, holding none, the offset) it holds, waiting `backoff` seconds,
    doubling up to `max_backoff`; it gives up with ConnectionLost after `give_up_after` seconds without reaching the
    server (None: never)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        give_up_after: float | None = 60.0,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.ws_url = "ws" + url[4:] if url.startswith("http") else url
        self.headers = dict(headers or {})
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.give_up_after = give_up_after
        self._http = httpx.AsyncClient(headers=self.headers, timeout=timeout)
        self._ids = itertools.count(1)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- queries and mutations (HTTP) ---

    async def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Any GraphQL operation over HTTP; its `data`, or PersistreamError with the server's code."""
        response = await self._http.post(self.url, json={"query": query, "variables": dict(variables or {})})
        try:
            result = response.json()
        except ValueError:
            raise PersistreamError(f"The server answered HTTP {response.status_code}.", None) from None
        if not isinstance(result, dict):
            raise PersistreamError(f"The server answered HTTP {response.status_code}.", None)
        if result.get("errors"):
            raise PersistreamError.from_errors(result["errors"])
        data: dict[str, Any] = result["data"]
        return data

    async def body(self, stream_id: str, *, share_token: str | None = None) -> StreamBody:
        """The answer as stored now; `share_token` reads one of a thread shared with it."""
        return body_from((await self.execute(_BODY, {"id": stream_id, "share": share_token}))["streamBody"])

    async def cancel(self, stream_id: str) -> StreamBody:
        """Stop the answer (idempotent); leaving a subscription never cancels, this does."""
        return body_from((await self.execute(_CANCEL, {"id": stream_id}))["cancelStream"])

    # --- subscriptions (WebSocket) ---

    async def follow(
        self,
        stream_id: str,
        *,
        drive: bool = False,
        from_offset: int = 0,
        from_cursor: str | None = None,
        share_token: str | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Every event of the stream until its final one. `drive=True` starts the answer (streamChat) and sees the
        model's tokens live; otherwise it observes (streamBody) from `from_cursor` when given (a cursor an event or
        a body carried), else from `from_offset`; `share_token` observes an answer of a thread shared with it. After
        a dropped connection it resubscribes as an observer from the cursor it holds (before it holds one, from its
        offset), so nothing of any part is repeated or lost."""
        offset, cursor = from_offset, from_cursor
        retrying = Retrying(Backoff(self.backoff, self.max_backoff), give_up_after=self.give_up_after)
        while True:
            # streamChat on a stream already claimed is streamBody from 0: a driver that has nothing yet may ask
            # again (its first connection may have failed before the claim), one that holds a cursor or text
            # resumes from it (reasoning may come before any text: only the cursor says how much of it was seen).
            variables: dict[str, Any] = {"id": stream_id}
            if drive and cursor is None and offset == 0:
                query = _STREAM_CHAT
            else:
                query = _STREAM_BODY
                variables.update({"from": offset, "cursor": cursor})
                if share_token is not None:
                    variables["share"] = share_token
            try:
                # aclosing: returning mid-iteration closes the socket now, not whenever the generator is collected.
                async with contextlib.aclosing(self._subscribe(query, variables)) as events:
                    async for event in events:
                        retrying.succeeded()
                        offset = event.offset
                        cursor = event.cursor or cursor
                        yield event
                        if event.final:
                            return
                # The server completed without a final event (it is stopping): resume like after a drop.
                dropped = _Dropped("the subscription completed without a final event")
            except _Dropped as exc:
                dropped = exc
            try:
                delay = retrying.failed(dropped)
            except GaveUp:
                raise ConnectionLost(f"No connection to {self.url} for {self.give_up_after:g} s.") from None
            await asyncio.sleep(delay)

    async def text(self, stream_id: str, *, drive: bool = False) -> tuple[str, StreamEvent]:
        """Follow the stream to its end: its whole text and its final event."""
        collected, final = await self._to_end(stream_id, drive)
        return collected.text, final

    async def collect(self, stream_id: str, *, drive: bool = False) -> StreamBody:
        """Follow the stream to its end and assemble it from the events: its text, every part, the final status,
        cursor and usage (what `body()` reads from the server once the answer is final)."""
        return (await self._to_end(stream_id, drive))[0]

    async def _to_end(self, stream_id: str, drive: bool) -> tuple[StreamBody, StreamEvent]:
        text: list[str] = []
        parts = PartsAssembler()
        async with contextlib.aclosing(self.follow(stream_id, drive=drive)) as events:
            async for event in events:
                text.append(event.delta)
                parts.add(event.parts)
                if event.final:
                    whole = "".join(text)[: event.offset]
                    final = (event.offset, event.status, event.error, parts.parts, event.cursor, event.usage)
                    return StreamBody(stream_id, whole, *final), event
        raise AssertionError("follow() ends with a final event")  # pragma: no cover

    async def _subscribe(self, query: str, variables: dict[str, Any]) -> AsyncGenerator[StreamEvent, None]:
        try:
            socket = await websockets.connect(
                self.ws_url,
                subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
                additional_headers=self._upgrade_headers(),
                # A silent dead socket (a sleeping laptop, a proxy that forgot it) is found within ~20 s.
                ping_interval=10,
                ping_timeout=10,
                open_timeout=10,
                # An event can be as long as the answer (an observer's first one holds all the stored text), and
                # past the library's 1 MiB default the socket would close and every resume be refused again.
                max_size=None,
            )
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            if isinstance(exc, websockets.InvalidStatus) and exc.response.status_code < 500:
                raise PersistreamError(
                    f"The server refused the connection (HTTP {exc.response.status_code}).", None
                ) from None
            raise _Dropped from exc
        try:
            async for event in _operation(socket, str(next(self._ids)), query, variables, self._init_payload()):
                yield event
        except (websockets.ConnectionClosed, OSError, TimeoutError) as exc:
            close = getattr(exc, "rcvd", None)
            # 4403: the credential was refused at connection_init; 4400/4406: the server will not speak this
            # protocol with us. Neither gets better by reconnecting.
            if close is not None and close.code in _REFUSALS:
                reason = close.reason or "The server refused the connection."
                raise PersistreamError(reason, _REFUSALS[close.code]) from exc
            raise _Dropped from exc
        finally:
            await socket.close()

    def _upgrade_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        cookies = "; ".join(f"{name}={value}" for name, value in self._http.cookies.items())
        if cookies:
            headers["Cookie"] = cookies
        return headers

    def _init_payload(self) -> dict[str, str]:
        auth = self.headers.get("Authorization")
        return {"Authorization": auth} if auth else {}


async def _operation(
    socket: ClientConnection, op_id: str, query: str, variables: dict[str, Any], init: dict[str, str]
) -> AsyncGenerator[StreamEvent, None]:
    """One subscription on a fresh graphql-transport-ws socket, frame by frame."""
    await socket.send(json.dumps({"type": "connection_init", "payload": init}))
    while (message := json.loads(await asyncio.wait_for(socket.recv(), 10)))["type"] != "connection_ack":
        if message["type"] == "ping":
            await socket.send(json.dumps({"type": "pong"}))
    await socket.send(
        json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}})
    )
    async for raw in socket:
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "ping":
            await socket.send(json.dumps({"type": "pong"}))
        elif kind == "next" and message.get("id") == op_id:
            payload = message.get("payload") or {}
            if payload.get("errors"):
                raise PersistreamError.from_errors(payload["errors"])
            yield event_from(next(iter(payload["data"].values())))
        elif kind == "error" and message.get("id") == op_id:
            raise PersistreamError.from_errors(message.get("payload"))
        elif kind == "complete" and message.get("id") == op_id:
            return
