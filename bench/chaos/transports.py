"""One subscription over one transport, as a lazy iterator of events: WebSocket (graphql-transport-ws and the
legacy graphql-ws), Server-Sent Events and multipart HTTP.

Lazy on purpose: nothing is read off the socket before the caller asks for the next event, so a caller that stops
asking is a slow client for real (the socket's buffers fill and the server's writes wait), not one whose frames
pile up in a background reader. A lost connection is `Dropped`; a GraphQL error is `SubscriptionError`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import websockets

from bench.chaos.queries import STREAM_BODY, STREAM_CHAT
from tests.support.gql import SubscriptionError
from tests.support.http_stream import subscribe_http

Event = dict[str, Any]

# Seconds without a frame after which a subscription counts as dropped (the server sends keep-alives well within).
SILENCE = 30.0


class Dropped(Exception):
    """The connection ended, or went silent, before the subscription completed."""


def subscription(
    http_url: str,
    ws_url: str,
    transport: str,
    stream_id: str,
    *,
    drive: bool,
    offset: int = 0,
    cursor: str | None = None,
) -> AsyncGenerator[Event, None]:
    """`streamChat` (drive), or `streamBody` from `cursor` when given, else from `offset`."""
    field = "streamChat" if drive else "streamBody"
    query = STREAM_CHAT if drive else STREAM_BODY
    variables: dict[str, Any] = {"id": stream_id} if drive else {"id": stream_id, "from": offset, "cursor": cursor}
    if transport in ("ws", "ws-legacy"):
        return _websocket(ws_url, transport == "ws-legacy", query, variables, field)
    return _http(http_url, transport == "multipart", query, variables, field)


async def _websocket(
    url: str, legacy: bool, query: str, variables: dict[str, Any], field: str
) -> AsyncGenerator[Event, None]:
    protocol = "graphql-ws" if legacy else "graphql-transport-ws"
    try:
        async with websockets.connect(
            url,
            subprotocols=[protocol],  # type: ignore[list-item]
            open_timeout=10,
            max_queue=2,  # a small buffer, so a client that stops reading soon stops the socket too
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            while True:
                async with asyncio.timeout(10):
                    ack = json.loads(await ws.recv())
                if ack.get("type") == "connection_ack":
                    break
            start = "start" if legacy else "subscribe"
            await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": query, "variables": variables}}))
            while True:
                async with asyncio.timeout(SILENCE):
                    message = json.loads(await ws.recv())
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind in ("next", "data"):
                    payload = message["payload"]
                    if payload.get("errors"):
                        raise SubscriptionError(payload["errors"])
                    yield payload["data"][field]
                elif kind == "error":
                    payload = message["payload"]
                    raise SubscriptionError(payload if isinstance(payload, list) else [payload])
                elif kind == "complete":
                    return
    except (websockets.ConnectionClosed, websockets.InvalidHandshake, OSError, TimeoutError) as exc:
        raise Dropped(f"{type(exc).__name__}: {exc}") from None


async def _http(
    url: str, multipart: bool, query: str, variables: dict[str, Any], field: str
) -> AsyncGenerator[Event, None]:
    seen = 0
    try:
        async for stream in subscribe_http(url, query, variables, multipart=multipart, timeout=SILENCE):
            if stream.status != 200:
                raise Dropped(f"HTTP {stream.status}")
            for kind, payload in stream.frames[seen:]:
                seen += 1
                if kind == "next":
                    if payload.get("errors"):
                        raise SubscriptionError(payload["errors"])
                    yield payload["data"][field]
                elif kind == "complete":
                    return
    except httpx.HTTPError as exc:
        raise Dropped(f"{type(exc).__name__}: {exc}") from None
