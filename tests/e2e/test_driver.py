"""The driver (streamChat) against a real server and the real openai SDK: it sees exactly the model's text, in
order, with coalescing but no loss, and the answer outlives a driver that goes away."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import pytest

from tests.support.fake_openai import SECRET_KEY, FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events, done_body
from tests.support.server import ServerProcess
from tests.support.streams import Tap, assert_clean_log, query_body, start_stream, wait_closed, wait_final

TOKENS = [
    "Hello",
    ",",
    " world",
    ".",
    " A line",
    " that ends here\n",
    "and one",
    " that does not",
    " end with",
    " a full stop",
    " for a while",
    " yet",
    " it goes on",
    "?",
    " Done",
    "!",
]


async def test_driver_receives_exactly_the_model_text(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    expected = "".join(TOKENS)
    stream_id, name = await start_stream(server, fake_openai, Script(TOKENS, delay=0.01), prompt="Say hello")
    async with GraphQLWS(server.graphql_ws) as client:
        events = await Tap.driver(client, stream_id).result()

    assert check_events(events) == expected
    offsets = [e["offset"] for e in events]
    assert offsets == sorted(offsets)
    assert events[0]["offset"] == 0
    assert events[-1] == {
        "streamId": stream_id,
        "delta": events[-1]["delta"],
        "offset": len(expected),
        "status": "DONE",
        "error": None,
    }
    assert all(e["status"] == "STREAMING" for e in events[:-1])
    assert await query_body(server, stream_id) == done_body(stream_id, expected)
    # The real SDK made one streaming request, with the configured model and key, and read it to its end.
    [request] = fake_openai.requests_for(name)
    assert request.model == "test-model"
    assert request.authorization == f"Bearer {SECRET_KEY}"
    assert request.finished
    assert request.tokens_sent == len(TOKENS)


async def test_zero_delay_model_is_coalesced_never_dropped(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    # Tokens of varied sizes, sentence ends now and then, so chunks and events cut them in many places.
    rng = random.Random(7)
    tokens = [
        " " + "".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 6))) + rng.choice(["", "", "", ".", "\n"])
        for _ in range(2000)
    ]
    expected = "".join(tokens)
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens))
    async with GraphQLWS(server.graphql_ws) as client, GraphQLWS(server.graphql_ws) as observer_ws:
        observer = Tap.observer(observer_ws, stream_id)
        events = await Tap.driver(client, stream_id).result(timeout=30)
        observed = await observer.result()

    assert check_events(events) == expected
    assert events[-1]["status"] == "DONE"
    # An observer keeping up with the chunks of such a model gets the same text.
    assert check_events(observed) == expected
    # One empty opening event, at most one per token, one final event: coalescing may merge, never split.
    assert len(events) <= len(tokens) + 2
    body = await query_body(server, stream_id)
    assert (body["text"], body["status"], body["offset"]) == (expected, "DONE", len(expected))


@pytest.mark.parametrize("legacy", [False, True], ids=["transport-ws", "legacy-ws"])
@pytest.mark.parametrize("how", ["close", "abort", "complete"])
async def test_driver_that_leaves_does_not_stop_the_answer(
    server: ServerProcess, fake_openai: FakeOpenAI, how: str, legacy: bool
) -> None:
    """Close the socket cleanly, drop the TCP connection, or complete the subscription, while events are flowing:
    generation goes on, and the server does not log the client's departure as a failure."""
    tokens = [f" word{i}" + ("." if i % 7 == 6 else "") for i in range(150)]
    expected = "".join(tokens)
    for _ in range(2):
        stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=0.004))
        async with GraphQLWS(server.graphql_ws, legacy=legacy) as client:
            tap = Tap.driver(client, stream_id)
            await tap.until_text(random.randint(1, len(expected) // 5))
            if how == "close":
                await client.ws.close()
            elif how == "abort":
                client.ws.transport.abort()
            else:
                await tap.leave()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await tap.task
            assert not tap.finished, "the driver left too late to prove anything"

        body = await wait_final(server, stream_id)
        assert body == done_body(stream_id, expected)
        [request] = fake_openai.requests_for(name)
        await wait_closed(request)
        assert request.finished
    assert_clean_log(server)


async def test_driver_that_leaves_while_claiming(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """A driver that drops its connection right after subscribing, around the moment of the claim: a claimed
    stream is answered in full, an unclaimed one stays PENDING untouched, and the database stays writable (a
    claim cut off half-way must not keep SQLite's write lock and fail everyone else's writes)."""
    tokens = [" Short", " answer", "."]
    expected = "".join(tokens)
    streams: list[tuple[str, str]] = []
    for _ in range(12):
        asked_at = time.monotonic()
        stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=0.005))
        assert time.monotonic() - asked_at < 3, "sendMessage waited on a locked database"
        streams.append((stream_id, name))
        async with GraphQLWS(server.graphql_ws) as client:
            tap = Tap.driver(client, stream_id)
            # A random moment around the claim, on purpose; wide enough that a loaded machine still reaches it
            # sometimes (the claim now follows an ownership check, one more query).
            await asyncio.sleep(random.uniform(0, 0.04))
            client.ws.transport.abort()
            with contextlib.suppress(ConnectionError):
                await tap.task

    claimed = 0
    for stream_id, name in streams:
        body = await query_body(server, stream_id)
        if body["status"] == "PENDING":  # the subscription never reached the claim
            assert (body["text"], fake_openai.requests_for(name)) == ("", [])
            continue
        claimed += 1
        body = await wait_final(server, stream_id)
        assert (body["text"], body["status"]) == (expected, "DONE"), body
        assert len(fake_openai.requests_for(name)) == 1
    assert claimed, "no driver got as far as the claim: the test proved nothing"
    assert "database is locked" not in server.log()
    assert_clean_log(server)
