"""persistream.client.PersistreamClient against a real server: driving and observing give exactly the stored text
with the contract's event rules, cancel ends CANCELLED, leaving never cancels, credentials (bearer token, the
anonymous cookie) follow the client onto the WebSocket, and the module pulls in nothing of the server."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import sys
from dataclasses import asdict

import pytest

from persistream.client import ConnectionLost, PersistreamClient, PersistreamError, StreamEvent
from tests.conftest import ServerFactory
from tests.support.cuttable_proxy import CuttableProxy
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import STREAM_BODY, check_events
from tests.support.http_stream import run_http
from tests.support.identities import HS_SECRET, JWT_ENV, hs_token
from tests.support.secrets import remember
from tests.support.server import ServerProcess
from tests.support.streams import unique, wait_final


def as_dicts(events: list[StreamEvent]) -> list[dict[str, object]]:
    return [{"streamId": e.stream_id, **{k: v for k, v in asdict(e).items() if k != "stream_id"}} for e in events]


async def test_drive_and_observe_from_an_offset(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = ["Py", "thon", " 🎉", " client", "."] + [f" w{i}" for i in range(20)]
    name = unique("pyc")
    expected = "".join(tokens)
    async with PersistreamClient(server.graphql_http) as client:
        message = await client.send_message(f"Go {fake_openai.add(name, Script(tokens, delay=0.02))}")
        driven: list[StreamEvent] = []
        async for event in client.follow(message.stream_id, drive=True):
            driven.append(event)
            if event.offset >= 8:
                break  # a driver that leaves: the answer goes on
        start = driven[-1].offset
        observed = [e async for e in client.follow(message.stream_id, from_offset=start)]
        text, final = await client.text(message.stream_id)

    assert check_events(as_dicts(observed), start) == expected[start:]
    assert (text, final.status, final.offset) == (expected, "DONE", len(expected))
    assert len(fake_openai.requests_for(name)) == 1


async def test_cancel_ends_the_answer_cancelled(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    name = unique("pycancel")
    async with PersistreamClient(server.graphql_http) as client:
        message = await client.send_message(f"Long {fake_openai.add(name, Script(['x '] * 400, delay=0.02))}")
        events: list[StreamEvent] = []
        async for event in client.follow(message.stream_id, drive=True):
            events.append(event)
            if event.delta and not any(e.status == "CANCELLED" for e in events):
                cancelled = await client.cancel(message.stream_id)
                assert cancelled.status == "CANCELLED"
        assert events[-1].status == "CANCELLED"
        body = await client.body(message.stream_id)
    assert body.status == "CANCELLED" and body.text == check_events(as_dicts(events))


async def test_errors_carry_the_contract_codes(server: ServerProcess) -> None:
    async with PersistreamClient(server.graphql_http) as client:
        with pytest.raises(PersistreamError) as missing:
            async for _ in client.follow("00000000-0000-4000-8000-000000000000"):
                pass
        assert missing.value.code == "NOT_FOUND"
        with pytest.raises(PersistreamError) as empty:
            await client.send_message(" ")
        assert empty.value.code == "BAD_USER_INPUT"


async def test_a_bearer_token_goes_on_http_and_the_websocket(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    server = make_server(PERSISTREAM_JWT_SECRET=HS_SECRET, **JWT_ENV)
    token = hs_token("carol")
    remember(token)
    name = unique("pyjwt")
    async with PersistreamClient(server.graphql_http, token=token) as carol:
        message = await carol.send_message(f"Hi {fake_openai.add(name, Script(['Token', ' ok.']))}")
        text, final = await carol.text(message.stream_id, drive=True)
    assert (text, final.status) == ("Token ok.", "DONE")
    async with PersistreamClient(server.graphql_http) as nobody:
        with pytest.raises(PersistreamError) as refused:
            await nobody.send_message("Hi")
        assert refused.value.code == "UNAUTHENTICATED"
        with pytest.raises(PersistreamError) as closed:
            await nobody.text(message.stream_id)
        assert closed.value.code == "UNAUTHENTICATED"  # the socket is closed with 4403 at connection_init


async def test_the_anonymous_cookie_follows_the_client_onto_the_websocket(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    """An `anonymous` server sets its cookie on the first /graphql response; without it on the upgrade the socket
    would be a fresh identity that owns nothing (NOT_FOUND)."""
    server = make_server(PERSISTREAM_AUTH="anonymous")
    name = unique("pyanon")
    async with PersistreamClient(server.graphql_http) as visitor:
        message = await visitor.send_message(f"Hi {fake_openai.add(name, Script(['Cookie', ' kept.']))}")
        text, final = await visitor.text(message.stream_id, drive=True)
    assert (text, final.status) == ("Cookie kept.", "DONE")
    async with PersistreamClient(server.graphql_http) as stranger:
        with pytest.raises(PersistreamError) as other:
            await stranger.text(message.stream_id)
        assert other.value.code == "NOT_FOUND"


async def test_leaving_never_cancels(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = [f"t{i} " for i in range(30)]
    name = unique("pyleave")
    async with PersistreamClient(server.graphql_http) as client:
        message = await client.send_message(f"Go {fake_openai.add(name, Script(tokens, delay=0.02))}")
        follow = client.follow(message.stream_id, drive=True)
        async with contextlib.aclosing(follow):
            await anext(follow)
            await anext(follow)
    body = await wait_final(server, message.stream_id)
    assert body["status"] == "DONE" and body["text"] == "".join(tokens)


def test_the_client_imports_nothing_of_the_server() -> None:
    code = (
        "import sys, persistream.client, persistream.ask; "
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'sqlmodel', 'strawberry', 'starlette', 'openai', 'broadcaster', 'uvicorn') "
        "or m.startswith(('persistream.web', 'persistream.core', 'persistream.engine', 'persistream.chat', "
        "'persistream.db'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == ""


async def test_follow_gives_up_when_the_server_stays_away() -> None:
    async with PersistreamClient("http://127.0.0.1:9/graphql", backoff=0.01, max_backoff=0.05, give_up_after=0.3) as c:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ConnectionLost, match="No connection"):
            async for _ in c.follow("00000000-0000-4000-8000-000000000000"):
                pass
        assert asyncio.get_running_loop().time() - started < 5


async def test_headers_carry_a_proxy_identity_over_http_websocket_and_sse(
    make_server: ServerFactory, fake_openai: FakeOpenAI
) -> None:
    """`headers` go on every request: behind an authenticating proxy (PERSISTREAM_AUTH=proxy) its user header is
    the identity, for the client's HTTP and WebSocket alike, and for an SSE observer with the same header."""
    server = make_server(PERSISTREAM_AUTH="proxy")
    name = unique("pyproxy")
    async with PersistreamClient(server.graphql_http, headers={"X-Forwarded-User": "dave"}) as dave:
        message = await dave.send_message(f"Hi {fake_openai.add(name, Script(['Proxy', ' user.']))}")
        text, final = await dave.text(message.stream_id, drive=True)
    assert (text, final.status) == ("Proxy user.", "DONE")
    variables = {"id": message.stream_id, "from": 0}
    mine = await run_http(server.graphql_http, STREAM_BODY, variables, headers={"X-Forwarded-User": "dave"})
    assert check_events(mine.events("streamBody")) == "Proxy user."
    erin = await run_http(server.graphql_http, STREAM_BODY, variables, headers={"X-Forwarded-User": "erin"})
    nobody = await run_http(server.graphql_http, STREAM_BODY, variables)
    assert [p["errors"][0]["extensions"]["code"] for p in erin.payloads] == ["NOT_FOUND"]
    assert [p["errors"][0]["extensions"]["code"] for p in nobody.payloads] == ["UNAUTHENTICATED"]
    async with PersistreamClient(server.graphql_http) as anonymous:
        with pytest.raises(PersistreamError) as refused:
            await anonymous.text(message.stream_id)
        assert refused.value.code == "UNAUTHENTICATED"


async def test_an_observer_resumes_through_cut_connections(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """follow() as an observer, through a proxy that cuts every socket at random moments: the text assembled from
    the events is exactly the stored text, with the offsets never going back."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    proxy = CuttableProxy(server.port).start()
    try:
        for round_ in range(2):
            tokens = [f"o{i} " for i in range(40)] + ["🎉."]
            name = unique("pyobs")
            async with PersistreamClient(server.graphql_http) as owner:
                message = await owner.send_message(f"Go {fake_openai.add(name, Script(tokens, delay=0.02))}")
                driver = asyncio.create_task(owner.text(message.stream_id, drive=True))
                connections = proxy.connections
                async with PersistreamClient(f"{proxy.url}/graphql", backoff=0.05) as observer:
                    events: list[StreamEvent] = []
                    cuts = sorted(rng.sample(range(5, 35), 2))
                    async for event in observer.follow(message.stream_id, from_offset=0):
                        events.append(event)
                        if cuts and len("".join(e.delta for e in events)) >= cuts[0] * 4:
                            cuts.pop(0)
                            proxy.cut(refuse_for=rng.choice([0.0, 0.3]))
                await driver
            where = f"seed {seed}, round {round_}"
            assert check_events(as_dicts(events)) == "".join(tokens), where
            assert events[-1].status == "DONE", where
            assert proxy.connections - connections >= 2, where  # it was cut and came back
    finally:
        proxy.stop()
