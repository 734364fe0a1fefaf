"""cancelStream from a second client: the model's stream is closed within a second, the text so far is kept
(everything the driver saw, and nothing the model had not sent), the status is CANCELLED, and cancel is
idempotent, on a live stream as on a PENDING one."""

from __future__ import annotations

import asyncio
import random
import time

import httpx

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import CANCEL, GraphQLWS, check_events, gql
from tests.support.server import ServerProcess
from tests.support.streams import Tap, assert_clean_log, query_body, start_stream, wait_closed, wait_until


async def cancel(server: ServerProcess, stream_id: str, http: httpx.AsyncClient | None = None) -> dict[str, object]:
    if http is None:
        result = await gql(server.graphql_http, CANCEL, {"id": stream_id})
    else:  # a client already connected: the time measured is the server's, not the client's set-up
        result = (await http.post(server.graphql_http, json={"query": CANCEL, "variables": {"id": stream_id}})).json()
    assert not result.get("errors"), result
    body: dict[str, object] = result["data"]["cancelStream"]
    return body


async def test_cancel_mid_stream(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """Many rounds, cancelling at a random point: right after the claim, or after a random amount of text (also
    while a chunk is being flushed); sometimes two clients cancel at once."""
    rng = random.Random()
    async with (
        GraphQLWS(server.graphql_ws) as driver_ws,
        GraphQLWS(server.graphql_ws) as observer_ws,
        httpx.AsyncClient(timeout=30) as first,
        httpx.AsyncClient(timeout=30) as second,
    ):
        for round_no in range(10):
            tokens = [f" c{round_no}t{i}" + rng.choice(["", "", ".", "\n"]) for i in range(300)]
            model_text = "".join(tokens)
            stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=rng.uniform(0.002, 0.01)))
            driver = Tap.driver(driver_ws, stream_id)
            observer = Tap.observer(observer_ws, stream_id)
            if round_no % 3 == 0:
                await driver.until_started()  # claimed, the model maybe not asked yet
            else:
                await driver.until_text(rng.randint(1, 300))
            seen = driver.text
            sent_at = time.monotonic()
            clients = [first, second][: rng.choice([1, 2])]
            bodies = await asyncio.gather(*(cancel(server, stream_id, http) for http in clients))
            body = bodies[0]
            assert all(other == body for other in bodies), bodies

            assert body["status"] == "CANCELLED"
            assert body["error"] is None
            kept = body["text"]
            assert isinstance(kept, str)
            assert model_text.startswith(kept), "kept text that the model never sent"
            assert kept.startswith(seen), "lost text the driver had already shown"
            assert body["offset"] == len(kept)
            # The model's HTTP stream is closed, promptly, before it could finish. (Cancelled right after the
            # claim, the request may not have reached the model at all.)
            requests = fake_openai.requests_for(name)
            assert len(requests) <= 1
            assert requests or not kept
            for request in requests:
                assert await wait_closed(request) - sent_at < 1.0
                assert not request.finished
            # The driver and the observer end CANCELLED with exactly the kept text.
            for tap in (driver, observer):
                events = await tap.result()
                assert check_events(events) == kept
                assert events[-1]["status"] == "CANCELLED"
            # Idempotent: a second cancel, and a later read, change nothing.
            assert await cancel(server, stream_id) == body
            assert await query_body(server, stream_id) == body
    assert_clean_log(server)


async def test_cancel_racing_the_natural_end(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """Cancel as the model finishes: one of DONE (whole text) or CANCELLED (a prefix) wins, and everyone agrees."""
    rng = random.Random()
    async with (
        GraphQLWS(server.graphql_ws) as driver_ws,
        GraphQLWS(server.graphql_ws) as observer_ws,
        httpx.AsyncClient(timeout=30) as http,
    ):
        for round_no in range(10):
            tokens = [f" e{round_no}t{i}" + rng.choice(["", "."]) for i in range(20)]
            model_text = "".join(tokens)
            stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.01))
            driver = Tap.driver(driver_ws, stream_id)
            observer = Tap.observer(observer_ws, stream_id)
            await driver.until_text(len(model_text) - rng.randint(0, 150))
            seen = driver.text
            body = await cancel(server, stream_id, http)
            kept = body["text"]
            assert isinstance(kept, str)
            assert kept.startswith(seen)
            if body["status"] == "DONE":
                assert kept == model_text
            else:
                assert body["status"] == "CANCELLED"
                assert model_text.startswith(kept)
            for tap in (driver, observer):
                events = await tap.result()
                assert check_events(events) == kept
                assert events[-1]["status"] == body["status"]
            assert await cancel(server, stream_id) == body


async def test_cancel_pending_stream(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    stream_id, name = await start_stream(server, fake_openai, Script([" never", " sent"]))
    async with GraphQLWS(server.graphql_ws) as client:
        waiting = Tap.observer(client, stream_id)
        await wait_until(lambda: bool(waiting.events))
        body = await cancel(server, stream_id)
        expected = {"streamId": stream_id, "text": "", "status": "CANCELLED", "error": None, "offset": 0}
        assert body == expected
        assert await cancel(server, stream_id) == expected
        observed = await waiting.result(timeout=5)
        assert observed[-1] == {"streamId": stream_id, "delta": "", "offset": 0, "status": "CANCELLED", "error": None}
        # A driver that comes later starts nothing: it only reads the final status.
        driven = await Tap.driver(client, stream_id).result()
        assert driven == [{"streamId": stream_id, "delta": "", "offset": 0, "status": "CANCELLED", "error": None}]
    assert fake_openai.requests_for(name) == []
    assert await query_body(server, stream_id) == expected


async def test_cancel_after_the_end_changes_nothing(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = [" Short", " answer", "."]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens))
    async with GraphQLWS(server.graphql_ws) as client:
        await Tap.driver(client, stream_id).result()
    text = "".join(tokens)
    done = {"streamId": stream_id, "text": text, "status": "DONE", "error": None, "offset": len(text)}
    assert await cancel(server, stream_id) == done
    assert await query_body(server, stream_id) == done
