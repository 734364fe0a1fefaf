"""Subscriptions over plain HTTP: GraphQL over Server-Sent Events ("distinct connections") and multipart HTTP.
The wire is read byte for byte with httpx; the same operations give the same events as over WebSocket, under the
same identity rules, limits and middlewares, and a client that leaves frees what it held."""

from __future__ import annotations

import asyncio
import itertools
import json

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import SEND, STREAM_BODY, STREAM_CHAT, check_events
from tests.support.http_stream import (
    MULTIPART_ACCEPT,
    SSE_ACCEPT,
    HTTPStream,
    parse_sse,
    run_http,
    subscribe_http,
)
from tests.support.server import ServerProcess
from tests.support.streams import assert_clean_log, query_body, start_stream, unique, wait_final, wait_until


def _text(result: HTTPStream, field_name: str) -> str:
    return "".join(e["delta"] for e in result.events(field_name))


TOKENS = ["Plain", " HTTP", " 🎉", " streams", ".", " Line", " two", " ok", "!"]


@pytest.mark.parametrize("multipart", [False, True], ids=["sse", "multipart"])
async def test_driver_and_observer_over_http_get_exactly_the_stored_text(
    server: ServerProcess, fake_openai: FakeOpenAI, multipart: bool
) -> None:
    tokens = TOKENS + [f" w{i}" for i in range(20)]
    stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=0.02), name="http")
    expected = "".join(tokens)

    seen: list[HTTPStream] = []

    async def drive() -> HTTPStream:
        async for result in subscribe_http(server.graphql_http, STREAM_CHAT, {"id": stream_id}, multipart=multipart):
            seen[:] = [result]
        return seen[0]

    driver_task = asyncio.create_task(drive())
    # Observe, while the answer is live, from an offset past an astral-plane character: offsets count code
    # points, not UTF-16 units or bytes.
    start = len("Plain HTTP 🎉")
    await wait_until(lambda: bool(seen) and len(_text(seen[0], "streamChat")) >= start)
    observer = await run_http(server.graphql_http, STREAM_BODY, {"id": stream_id, "from": start}, multipart=multipart)
    driver = await driver_task
    assert not _text(observer, "streamBody").startswith(expected[:start])  # it did start at the offset

    assert await query_body(server, stream_id) == {
        "streamId": stream_id,
        "text": expected,
        "status": "DONE",
        "error": None,
        "offset": len(expected),
    }
    for result in (driver, observer):
        assert result.status == 200
        assert "content-length" not in result.headers  # streamed, never buffered to measure it
        assert "content-encoding" not in result.headers
    driver_events = driver.events("streamChat")
    assert check_events(driver_events) == expected
    assert len([e for e in driver_events if e["delta"]]) > 1  # it streamed
    assert check_events(observer.events("streamBody"), start) == expected[start:]
    assert len(fake_openai.requests_for(name)) == 1


async def test_sse_framing_is_exact(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    stream_id, _ = await start_stream(server, fake_openai, Script(["One", " two", "."], delay=0.01), name="frame")
    result = await run_http(server.graphql_http, STREAM_CHAT, {"id": stream_id})

    assert result.headers["content-type"] == "text/event-stream"
    assert result.headers["cache-control"] == "no-cache, no-transform"  # no proxy may cache or compress it
    assert result.headers["x-accel-buffering"] == "no"  # nor buffer it (nginx)
    assert result.headers["transfer-encoding"] == "chunked"
    # Every block is `event: next` with one line of JSON, then one `event: complete` with empty data; nothing else.
    events = result.events("streamChat")
    expected_raw = "".join(
        f"event: next\r\ndata: {json.dumps({'data': {'streamChat': e}}, separators=(',', ':'))}\r\n\r\n" for e in events
    )
    assert result.raw == expected_raw + "event: complete\r\ndata: \r\n\r\n"
    assert check_events(events) == "One two."


async def test_multipart_framing_is_exact(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    stream_id, _ = await start_stream(server, fake_openai, Script(["Un", " deux", "."], delay=0.01), name="mp")
    result = await run_http(server.graphql_http, STREAM_CHAT, {"id": stream_id}, multipart=True)

    assert result.headers["content-type"] == "multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/json"
    events = result.events("streamChat")
    assert check_events(events) == "Un deux."
    # A heartbeat part (`{}`) first, so a client knows at once the subscription is accepted; then one part per
    # event, each with its exact byte length; then the closing boundary.
    assert result.frames[0] == ("ping", {})

    def part(obj: object) -> str:
        body = json.dumps(obj, separators=(",", ":"))
        length = len(body.encode())
        return (
            f"\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {length}\r\n\r\n{body}\r\n--graphql"
        )

    parts = [part({}) if kind == "ping" else part({"payload": payload}) for kind, payload in result.frames]
    assert result.raw == "".join(parts) + "\r\n--graphql--\r\n"


async def test_each_event_is_flushed_as_it_happens(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """Nothing between the app and the socket (middlewares, uvicorn) holds an event back: with a model pausing
    0.3 s between tokens, each token arrives over SSE on its own, spread out in time as the model wrote them."""
    stream_id, _ = await start_stream(server, fake_openai, Script(["a", "b", "c", "d"], delay=0.3), name="flush")
    arrived: list[float] = []
    seen = 0
    async for result in subscribe_http(server.graphql_http, STREAM_CHAT, {"id": stream_id}):
        if len(result.payloads) > seen:
            seen = len(result.payloads)
            if result.payloads[-1]["data"]["streamChat"]["delta"]:
                arrived.append(asyncio.get_running_loop().time())
    assert len(arrived) == 4, arrived
    gaps = [b - a for a, b in itertools.pairwise(arrived)]
    assert all(gap > 0.15 for gap in gaps), gaps


@pytest.mark.parametrize("accept", [SSE_ACCEPT, MULTIPART_ACCEPT], ids=["sse", "multipart"])
async def test_errors_over_http_subscriptions_carry_the_contract_codes(server: ServerProcess, accept: str) -> None:
    multipart = accept == MULTIPART_ACCEPT
    missing = await run_http(
        server.graphql_http, STREAM_CHAT, {"id": "00000000-0000-4000-8000-000000000000"}, multipart=multipart
    )
    assert [p["errors"][0]["extensions"]["code"] for p in missing.payloads] == ["NOT_FOUND"]
    malformed = await run_http(server.graphql_http, STREAM_CHAT, {"id": "not-an-id"}, multipart=multipart)
    assert [p["errors"][0]["extensions"]["code"] for p in malformed.payloads] == ["BAD_USER_INPUT"]
    bad = await run_http(server.graphql_http, "subscription { streamChat(", multipart=multipart)
    assert [p["errors"][0]["extensions"]["code"] for p in bad.payloads] == ["GRAPHQL_PARSE_FAILED"]
    # Document limits hold over HTTP subscriptions as over WebSocket: past PERSISTREAM_MAX_ALIASES (30).
    aliases = " ".join(f"a{i}: streamChat(streamId: $id) {{ delta }}" for i in range(31))
    over = await run_http(
        server.graphql_http, f"subscription($id: ID!) {{ {aliases} }}", {"id": "00000000-0000-4000-8000-000000000000"}
    )
    assert [p["errors"][0]["extensions"]["code"] for p in over.payloads] == ["GRAPHQL_VALIDATION_FAILED"]
    # The server keeps serving.
    async with httpx.AsyncClient() as client:
        assert (await client.get(server.url + "/healthz")).status_code == 200
    assert_clean_log(server)


async def test_middlewares_refuse_http_subscriptions_as_any_request(server: ServerProcess) -> None:
    body = {"query": STREAM_CHAT, "variables": {"id": "00000000-0000-4000-8000-000000000000"}}
    async with httpx.AsyncClient() as client:
        foreign = await client.post(
            server.graphql_http, json=body, headers={"accept": SSE_ACCEPT, "origin": "https://elsewhere.example"}
        )
        assert foreign.status_code == 403
        assert foreign.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        rebound = await client.post(server.graphql_http, json=body, headers={"accept": SSE_ACCEPT, "host": "evil.test"})
        assert rebound.status_code == 400
        huge = {"query": STREAM_CHAT, "variables": {"id": "x" * 1_100_000}}
        assert (await client.post(server.graphql_http, json=huge, headers={"accept": SSE_ACCEPT})).status_code == 413


async def test_an_http_observer_that_leaves_is_let_go_and_a_driver_that_leaves_lets_the_answer_finish(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    tokens = [f"word{i} " for i in range(40)] + ["end."]
    stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=0.05), name="leave")

    async def observers() -> int:
        async with httpx.AsyncClient() as client:
            count: int = (await client.get(server.url + "/healthz")).json()["observers"]
        return count

    before = await observers()
    # The driver reads until it has some text, then hangs up (the response is closed mid-stream).
    async for result in subscribe_http(server.graphql_http, STREAM_CHAT, {"id": stream_id}):
        if "".join(e["delta"] for e in result.events("streamChat")):
            break
    # An observer over SSE joins, reads its first event and leaves.
    async for result in subscribe_http(server.graphql_http, STREAM_BODY, {"id": stream_id, "from": 0}):
        if result.payloads:
            assert await observers() > before  # it is held while it is open...
            break
    body = await wait_final(server, stream_id, timeout=20)
    assert body["status"] == "DONE" and body["text"] == "".join(tokens)
    assert len(fake_openai.requests_for(name)) == 1
    # Nothing of either left behind on the server.
    for _ in range(100):
        if (now := await observers()) <= before:
            break
        await asyncio.sleep(0.05)
    assert now <= before, (now, before)


def test_sse_parser_rejects_a_frame_it_does_not_know() -> None:
    """The wire checks above are only as strict as the parser: a malformed block must fail it."""
    frames, rest = parse_sse("event: next\r\ndata: {}\r\n\r\n: ping\r\n\r\nevent: comp")
    assert frames == [("next", {}), ("ping", None)] and rest == "event: comp"
    with pytest.raises(AssertionError):
        parse_sse("data: {}\r\nextra: 1\r\n\r\n")


async def test_cors_and_the_anonymous_cookie_over_sse(make_server: ServerFactory, fake_openai: FakeOpenAI) -> None:
    """A page on an allowed origin may subscribe over SSE (the preflight allows the headers graphql-sse and
    Apollo send); on an `anonymous` server the identity cookie set by the SSE response itself is who owns what."""
    origin = "http://localhost:5173"
    server = make_server(PERSISTREAM_AUTH="anonymous", PERSISTREAM_ALLOWED_ORIGINS=origin)
    async with httpx.AsyncClient() as client:
        preflight = await client.options(
            server.graphql_http,
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "accept, content-type, authorization",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == origin
        name = unique("cors")
        marker = fake_openai.add(name, Script(["Cross", " origin", "."]))
        sent = await client.post(
            server.graphql_http,
            json={"query": SEND, "variables": {"prompt": f"Hi {marker}", "thread": None}},
            headers={"origin": origin},
        )
        # (The preflight's response may already have set it; the client keeps whichever came first.)
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        assert cookie
        stream_id = sent.json()["data"]["sendMessage"]["responseStreamId"]
    headers = {"origin": origin, "cookie": cookie, "accept": SSE_ACCEPT}
    mine = await run_http(server.graphql_http, STREAM_CHAT, {"id": stream_id}, headers=headers)
    assert mine.headers["access-control-allow-origin"] == origin
    assert check_events(mine.events("streamChat")) == "Cross origin."
    # Without the cookie the SSE request is a fresh identity (its response sets a new cookie) that owns nothing.
    stranger = await run_http(
        server.graphql_http, STREAM_BODY, {"id": stream_id, "from": 0}, headers={"origin": origin}
    )
    assert "set-cookie" in stranger.headers
    assert [p["errors"][0]["extensions"]["code"] for p in stranger.payloads] == ["NOT_FOUND"]


async def test_an_operation_the_transport_cannot_carry_is_a_clear_refusal(server: ServerProcess) -> None:
    """Multipart HTTP carries only subscriptions, and a GET no mutation: the client is told so with a code, and
    nothing runs (the prompt is not stored)."""
    send = 'mutation { sendMessage(prompt: "never stored") { threadId } }'
    threads_before = await thread_count(server)
    over_multipart = await run_http(server.graphql_http, send, multipart=True)
    async with httpx.AsyncClient() as client:
        over_get = await client.get(server.graphql_http, params={"query": send}, headers={"accept": SSE_ACCEPT})
        named = await client.post(
            server.graphql_http,
            json={"query": "subscription A { __typename } subscription B { __typename }", "operationName": "C"},
            headers={"accept": SSE_ACCEPT},
        )
    frames, _ = parse_sse(over_get.text)
    for errors in (over_multipart.payloads[0]["errors"], frames[0][1]["errors"]):
        assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "mutation cannot be sent this way" in errors[0]["message"]
    named_errors = parse_sse(named.text)[0][0][1]["errors"]
    assert named_errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Unknown operation named" in named_errors[0]["message"]
    assert await thread_count(server) == threads_before
    assert "unexpected error" not in server.log()
    assert_clean_log(server)


async def thread_count(server: ServerProcess) -> int:
    async with httpx.AsyncClient() as client:
        threads = (await client.post(server.graphql_http, json={"query": "{ threads(last: 1000) { id } }"})).json()
    return len(threads["data"]["threads"])


@pytest.mark.parametrize("accept", [SSE_ACCEPT, MULTIPART_ACCEPT], ids=["sse", "multipart"])
async def test_a_streamed_request_without_a_query_is_a_parse_error(server: ServerProcess, accept: str) -> None:
    """A body with no `query` asked for as a stream: GRAPHQL_PARSE_FAILED with the words a plain POST uses, not a
    masked INTERNAL_SERVER_ERROR logged as unexpected."""
    async with httpx.AsyncClient() as client:
        for body in ({}, {"variables": {}}, {"query": None}):
            response = await client.post(server.graphql_http, json=body, headers={"accept": accept})
            assert response.status_code == 200, response.text
            assert "Internal server error" not in response.text, response.text
            assert '"code":"GRAPHQL_PARSE_FAILED"' in response.text, response.text
            assert "No GraphQL query found in the request." in response.text, response.text
    assert "unexpected error" not in server.log()
    assert_clean_log(server)
