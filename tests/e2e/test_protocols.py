"""Both WebSocket subprotocols on /graphql: the legacy `graphql-ws` drives and observes a stream like the modern
`graphql-transport-ws`; the modern one answers ping, runs queries and mutations, and `complete` ends only that
subscription. With PERSISTREAM_ALLOWED_ORIGINS unset, only the server's own origin (or no Origin) is accepted."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import STREAM_BODY, GraphQLWS, SubscriptionError, check_events
from tests.support.server import ServerProcess
from tests.support.streams import Tap, query_body, start_stream, wait_until


async def test_legacy_graphql_ws_drives_and_observes(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = ["Legacy", " protocol", " still", " works", ".", " 🎉", "\r\n", "Done", "."]
    expected = "".join(tokens)
    stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=0.01))
    async with (
        GraphQLWS(server.graphql_ws, legacy=True) as legacy_driver,
        GraphQLWS(server.graphql_ws, legacy=True) as legacy_observer,
        GraphQLWS(server.graphql_ws) as modern_observer,
    ):
        assert legacy_driver.ws.subprotocol == "graphql-ws"
        assert modern_observer.ws.subprotocol == "graphql-transport-ws"
        watchers = [Tap.observer(legacy_observer, stream_id), Tap.observer(modern_observer, stream_id)]
        await wait_until(lambda: all(w.events for w in watchers))
        driven = await Tap.driver(legacy_driver, stream_id).result()
        assert check_events(driven) == expected
        assert len([e for e in driven if e["delta"]]) > 1, "the legacy driver got tokens as they came"
        for watcher in watchers:
            events = await watcher.result()
            assert check_events(events) == expected
            assert events[-1]["status"] == "DONE"
        # Errors reach a legacy client too, with their code.
        with pytest.raises(SubscriptionError) as raised:
            async for _ in legacy_observer.subscribe(STREAM_BODY, {"id": "123e4567-e89b-12d3-a456-426614174000"}):
                pytest.fail("an event for a missing stream")
        assert raised.value.code == "NOT_FOUND"
    assert (await query_body(server, stream_id))["text"] == expected
    assert len(fake_openai.requests_for(name)) == 1


async def receive(ws: Any, timeout: float = 10) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return message


async def test_transport_ws_ping_queries_mutations_and_complete(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = [f" t{i}." for i in range(150)]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.01))
    async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init"}))
        assert (await receive(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"type": "ping", "payload": {"n": 1}}))
        assert (await receive(ws))["type"] == "pong"

        # A mutation and a query over the socket: one `next`, then `complete`.
        mutation = 'mutation { sendMessage(prompt: "over the socket") { prompt response { status } } }'
        await ws.send(json.dumps({"id": "m", "type": "subscribe", "payload": {"query": mutation}}))
        assert await receive(ws) == {
            "id": "m",
            "type": "next",
            "payload": {"data": {"sendMessage": {"prompt": "over the socket", "response": {"status": "PENDING"}}}},
        }
        assert await receive(ws) == {"id": "m", "type": "complete"}
        query = "query($id: ID!) { streamBody(streamId: $id) { status } }"
        await ws.send(
            json.dumps({"id": "q", "type": "subscribe", "payload": {"query": query, "variables": {"id": stream_id}}})
        )
        assert await receive(ws) == {
            "id": "q",
            "type": "next",
            "payload": {"data": {"streamBody": {"status": "PENDING"}}},
        }
        assert await receive(ws) == {"id": "q", "type": "complete"}

        # A driver that completes its subscription early stops only its subscription, never the generation.
        drive = "subscription($id: ID!) { streamChat(streamId: $id) { delta offset status } }"
        await ws.send(
            json.dumps({"id": "d", "type": "subscribe", "payload": {"query": drive, "variables": {"id": stream_id}}})
        )
        first = await receive(ws)
        assert first["id"] == "d" and first["type"] == "next", first
        await ws.send(json.dumps({"id": "d", "type": "complete"}))
        # After `complete` no more messages come for "d" (a frame already in flight may still arrive first).
        await ws.send(json.dumps({"type": "ping"}))
        while (message := await receive(ws))["type"] != "pong":
            assert message["id"] == "d" and message["type"] == "next", message
        await ws.send(json.dumps({"type": "ping"}))
        assert await receive(ws) == {"type": "pong"}
    async with GraphQLWS(server.graphql_ws) as observer:
        events = await Tap.observer(observer, stream_id).result()
    assert check_events(events) == "".join(tokens)
    assert events[-1]["status"] == "DONE"


async def test_subprotocol_negotiation(server: ServerProcess) -> None:
    for offered, chosen in (
        (["graphql-transport-ws", "graphql-ws"], "graphql-transport-ws"),
        (["graphql-ws"], "graphql-ws"),
    ):
        async with websockets.connect(server.graphql_ws, subprotocols=offered) as ws:  # type: ignore[arg-type]
            assert ws.subprotocol == chosen, offered


async def test_without_allowed_origins_only_the_same_origin_is_accepted(server: ServerProcess) -> None:
    query = {"query": "{ threads(last: 1) { id } }"}
    async with httpx.AsyncClient(timeout=10) as http:
        for origin in ("http://localhost:5173", "http://evil.example", f"http://localhost:{server.port + 1}"):
            response = await http.post(server.graphql_http, json=query, headers={"origin": origin})
            assert response.status_code == 403, origin
            assert "access-control-allow-origin" not in response.headers
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"], origin=origin):  # type: ignore[arg-type,list-item]
                    pytest.fail(f"handshake from {origin} accepted")
            assert refused.value.response.status_code == 403
        for origin in (server.url, None):
            response = await http.post(server.graphql_http, json=query, headers={"origin": origin} if origin else {})
            assert response.status_code == 200, origin
            async with GraphQLWS(server.graphql_ws, origin=origin):
                pass
