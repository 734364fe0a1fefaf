"""The edge against a real server: the Host allow-list on every route and the WebSocket, `Origin: null` refused,
bodies and WebSocket messages past PERSISTREAM_MAX_BODY_BYTES (413, close 1009), JSON nested too deeply (400
with a GraphQL error, no traceback), the security headers, and the legacy protocol's connection_init timeout."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import ServerFactory
from tests.support.gql import GraphQLWS, gql_data, send
from tests.support.server import ServerProcess
from tests.support.streams import assert_clean_log

SMALL = 4096


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as c:
        yield c


def refused_as_forbidden(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"


async def ws_handshake_status(server: ServerProcess, host: str, **kwargs: object) -> int | None:
    """The HTTP status a refused WebSocket handshake got, or None when the socket opened."""
    try:
        async with websockets.connect(
            f"ws://{host}/graphql",
            host="127.0.0.1",
            port=server.port,
            subprotocols=["graphql-transport-ws"],
            **kwargs,  # type: ignore[arg-type, list-item]
        ):
            return None
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


async def test_a_host_off_the_list_is_refused_on_every_route(server: ServerProcess, client: httpx.AsyncClient) -> None:
    evil = {"host": "evil.example"}
    refused_as_forbidden(await client.get(f"{server.url}/healthz", headers=evil), 400)
    refused_as_forbidden(await client.get(f"{server.url}/", headers=evil), 400)
    refused_as_forbidden(await client.get(f"{server.url}/static/css/chat.css", headers=evil), 400)
    refused_as_forbidden(
        await client.post(
            server.graphql_http, json={"query": 'mutation { sendMessage(prompt: "x") { id } }'}, headers=evil
        ),
        400,
    )
    # A name that only ends like an allowed one, or carries it as a port, is another host.
    refused_as_forbidden(await client.get(f"{server.url}/healthz", headers={"host": "localhost.evil.example"}), 400)
    refused_as_forbidden(await client.get(f"{server.url}/healthz", headers={"host": "evil.example:127"}), 400)
    assert await ws_handshake_status(server, f"evil.example:{server.port}") == 400
    # The loopback names are allowed with any port.
    for host in ("localhost", "localhost:1234", "127.0.0.1:80", "[::1]:8000", "LOCALHOST"):
        assert (await client.get(f"{server.url}/healthz", headers={"host": host})).status_code == 200, host
    assert await ws_handshake_status(server, f"localhost:{server.port}") is None
    assert_clean_log(server)


async def test_a_set_host_list_replaces_the_default(
    make_server: ServerFactory, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    # 127.0.0.1 stays listed: the test harness reaches the server by it.
    server = make_server(tmp_path / "hosts.db", PERSISTREAM_ALLOWED_HOSTS="chat.example, 127.0.0.1")
    assert (await client.get(f"{server.url}/healthz", headers={"host": "chat.example:443"})).status_code == 200
    refused_as_forbidden(await client.get(f"{server.url}/healthz", headers={"host": "localhost"}), 400)
    assert await ws_handshake_status(server, f"chat.example:{server.port}") is None
    assert await ws_handshake_status(server, f"localhost:{server.port}") == 400


async def test_origin_null_is_refused_over_http_and_websocket(server: ServerProcess, client: httpx.AsyncClient) -> None:
    before = len((await gql_data(server.graphql_http, "{ threads(last: 1000) { id } }"))["threads"])
    response = await client.post(
        server.graphql_http,
        json={"query": 'mutation { sendMessage(prompt: "from null") { id } }'},
        headers={"origin": "null"},
    )
    refused_as_forbidden(response, 403)
    assert len((await gql_data(server.graphql_http, "{ threads(last: 1000) { id } }"))["threads"]) == before
    assert await ws_handshake_status(server, f"127.0.0.1:{server.port}", origin="null") == 403
    # The page's own origin still works.
    ok = await client.post(server.graphql_http, json={"query": "{ __typename }"}, headers={"origin": server.url})
    assert ok.json() == {"data": {"__typename": "Query"}}


async def test_json_nested_too_deeply_is_a_400_with_a_graphql_error(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    for body in ("[" * 100_000, '{"query": ' + "[" * 100_000, '{"a":' * 50_000):
        response = await client.post(server.graphql_http, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
    # Over WebSocket it is a message that does not parse: the protocol's close, and nothing in the log.
    async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send("[" * 100_000)
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 4400
    assert (await gql_data(server.graphql_http, "{ __typename }")) == {"__typename": "Query"}
    assert_clean_log(server)


async def test_bodies_and_messages_past_the_limit(
    make_server: ServerFactory, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    server = make_server(tmp_path / "body.db", PERSISTREAM_MAX_BODY_BYTES=str(SMALL))
    padding = " " * (SMALL - 100)
    assert (
        await client.post(
            server.graphql_http,
            content='{"query": "{ __typename }"}' + padding,
            headers={"content-type": "application/json"},
        )
    ).json() == {"data": {"__typename": "Query"}}
    big = '{"query": "{ __typename }"}' + " " * SMALL
    response = await client.post(server.graphql_http, content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    async def chunked() -> AsyncIterator[bytes]:  # no content-length: counted as it arrives
        for _ in range(4):
            yield b" " * (SMALL // 2)

    response = await client.post(server.graphql_http, content=chunked(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    # A WebSocket message past the limit closes that socket with 1009; a smaller one is served.
    async with GraphQLWS(server.graphql_ws) as small_client:
        message = await send(server.graphql_http, "still here")
        await small_client.ws.send(
            json.dumps({"id": "big", "type": "subscribe", "payload": {"query": "{ __typename }" + " " * SMALL}})
        )
        await asyncio.wait_for(small_client.ws.wait_closed(), 10)
        assert small_client.ws.close_code == 1009
    async with GraphQLWS(server.graphql_ws) as other:
        results = [
            d
            async for d in other.subscribe(
                "query($id: ID!) { streamBody(streamId: $id) { streamId } }", {"id": message["responseStreamId"]}
            )
        ]
        assert results == [{"streamBody": {"streamId": message["responseStreamId"]}}]
    assert_clean_log(server)


async def test_the_page_and_graphiql_carry_the_security_headers(
    server: ServerProcess, client: httpx.AsyncClient
) -> None:
    for response in (
        await client.get(f"{server.url}/"),
        await client.get(server.graphql_http, headers={"accept": "text/html"}),
    ):
        assert response.status_code == 200
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        directives = (d.strip().partition(" ") for d in response.headers["content-security-policy"].split(";"))
        policy = {name: value for name, _, value in directives}
        assert policy["frame-ancestors"] == "'none'"
        assert policy["script-src"] == "'self'"
        assert "unsafe" not in policy["default-src"]
        assert "unsafe-eval" not in response.headers["content-security-policy"]


async def test_a_legacy_socket_without_connection_init_is_closed(server: ServerProcess) -> None:
    started = time.monotonic()
    async with websockets.connect(server.graphql_ws, subprotocols=["graphql-ws"]) as ws:  # type: ignore[list-item]
        with pytest.raises(websockets.ConnectionClosed):
            while True:  # nothing is sent; keep-alives (`ka`) may not come before connection_init either
                await asyncio.wait_for(ws.recv(), 30)
        assert ws.close_code == 4408
    assert 8 <= time.monotonic() - started < 30
