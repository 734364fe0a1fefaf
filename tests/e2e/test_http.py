"""The HTTP surface besides GraphQL requests: GraphiQL on a browser GET of /graphql (served from local copies),
/healthz, and PERSISTREAM_ALLOWED_ORIGINS: an allowed origin gets CORS headers and may open a WebSocket, any other
origin is refused on both with 403."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest
import websockets

from tests.conftest import ServerFactory, server_env
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events
from tests.support.server import ServerProcess
from tests.support.streams import Tap, start_stream, wait_until

ALLOWED = ("http://localhost:5173", "https://app.example.com")
FOREIGN = ("http://evil.example", "http://localhost:5174", "https://app.example.com.evil.example", "null")
QUERY = {"query": "{ threads(last: 1) { id } }"}


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[ServerProcess]:
    env = server_env(fake_openai, module_tmp / "http.db", PERSISTREAM_ALLOWED_ORIGINS=",".join(ALLOWED))
    process = ServerProcess(env, log_path=module_tmp / "http.log").start()
    yield process
    process.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def test_graphiql_on_a_browser_get(server: ServerProcess, http: httpx.AsyncClient) -> None:
    response = await http.get(server.graphql_http, headers={"accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "graphiql" in page.lower()
    # Everything the page loads comes from this server: nothing from a CDN.
    sources = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", page, re.IGNORECASE)
    assert sources, page[:500]
    for source in sources:
        if source.startswith("data:"):
            continue
        url = urljoin(server.graphql_http, source)
        assert url.startswith(server.url + "/"), f"GraphiQL loads {source} from another host"
        asset = await http.get(url)
        assert asset.status_code == 200, (source, asset.status_code)
    # A GET that is not a browser's still runs a query.
    query = await http.get(server.graphql_http, params=QUERY)
    assert query.status_code == 200
    assert "errors" not in query.json()


async def test_healthz(server: ServerProcess, fake_openai: FakeOpenAI, http: httpx.AsyncClient) -> None:
    response = await http.get(f"{server.url}/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    health = response.json()
    assert health["status"] == "ok"
    assert health["database"] == "ok"
    assert health["broadcast"] == "up"
    assert health["generations"] == 0

    # While a stream is generated and observed, health says so; afterwards the counts go back down.
    stream_id, _ = await start_stream(server, fake_openai, Script([f" h{i}" for i in range(100)], delay=0.01))
    async with GraphQLWS(server.graphql_ws) as client:
        driver = Tap.driver(client, stream_id)
        observer = Tap.observer(client, stream_id)
        await driver.until_text(20)
        await wait_until(lambda: len(observer.events) > 1)
        live = (await http.get(f"{server.url}/healthz")).json()
        assert live["generations"] == 1
        assert live["observers"] >= 1
        await driver.result()
        await observer.result()

    async def idle() -> bool:
        health = (await http.get(f"{server.url}/healthz")).json()
        return bool(health["generations"] == 0 and health["observers"] == 0)

    deadline = time.monotonic() + 10
    while not await idle():
        assert time.monotonic() < deadline, "health still counts a finished stream"
        await asyncio.sleep(0.02)


async def test_allowed_origins_get_cors_headers(server: ServerProcess, http: httpx.AsyncClient) -> None:
    for origin in ALLOWED:
        response = await http.post(server.graphql_http, json=QUERY, headers={"origin": origin})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        # Listed origins get the anonymous cookie with fetch(credentials: "include").
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "errors" not in response.json()
        preflight = await http.options(
            server.graphql_http,
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "content-type" in preflight.headers["access-control-allow-headers"].lower()


async def test_any_origin_gets_no_credentials(make_server: ServerFactory, http: httpx.AsyncClient) -> None:
    # With "*", any site may call the API, so none may send its visitors' anonymous cookie with the call.
    server = make_server(PERSISTREAM_ALLOWED_ORIGINS="*")
    response = await http.post(server.graphql_http, json=QUERY, headers={"origin": "https://any.example"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "https://any.example")
    assert "access-control-allow-credentials" not in response.headers


async def test_other_origins_are_refused_over_http(server: ServerProcess, http: httpx.AsyncClient) -> None:
    for origin in FOREIGN:
        if origin == "null":
            continue  # sandboxed pages send it; without a preflight a browser can only send simple requests
        response = await http.post(server.graphql_http, json=QUERY, headers={"origin": origin})
        assert response.status_code == 403, origin
        assert "access-control-allow-origin" not in response.headers
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        preflight = await http.options(
            server.graphql_http,
            headers={"origin": origin, "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 403, origin
        assert "access-control-allow-origin" not in preflight.headers
    # Clients that are not browsers send no Origin, and the server's own pages send their own: both work.
    for headers in ({}, {"origin": server.url}):
        response = await http.post(server.graphql_http, json=QUERY, headers=headers)
        assert response.status_code == 200, headers
        assert "errors" not in response.json()


async def test_websocket_origin_check(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = ["Cross", " origin", " works", "."]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens))
    for origin in ALLOWED:
        async with GraphQLWS(server.graphql_ws, origin=origin) as client:
            events = await Tap.driver(client, stream_id).result()
            assert check_events(events) == "Cross origin works."
    for origin in FOREIGN:
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"], origin=origin):  # type: ignore[arg-type,list-item]
                pytest.fail(f"handshake from {origin} accepted")
        assert refused.value.response.status_code == 403, origin
    for origin in (None, server.url):
        async with GraphQLWS(server.graphql_ws, origin=origin) as client:
            events = await Tap.observer(client, stream_id).result()
            assert check_events(events) == "Cross origin works."
