"""`GET /metrics`, parsed with prometheus_client's own parser: the contract's metrics exist and move by exactly
what the test did; `PERSISTREAM_METRICS=false` removes the route."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events
from tests.support.metrics import scrape, value
from tests.support.server import ServerProcess
from tests.support.streams import Tap, start_stream


async def drive(server: ServerProcess, fake: FakeOpenAI, tokens: list[str]) -> list[dict[str, object]]:
    stream_id, _ = await start_stream(server, fake, Script(tokens, delay=0.005))
    async with GraphQLWS(server.graphql_ws) as client:
        return await Tap.driver(client, stream_id).result()


async def test_metrics_move_by_exactly_what_was_done(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    before = await scrape(server)
    assert value(before, "persistream_broadcast_up") == 1  # memory:// is always up
    answers = [[f" w{i}-{n}" for n in range(12)] for i in range(3)]
    for tokens in answers:
        events = await drive(server, fake_openai, tokens)
        assert check_events(events) == "".join(tokens)
        assert events[-1]["status"] == "DONE"
    # The final status is stored (and counted) before the driver sees it; the live gauge drops in the same step.
    after = await scrape(server)
    assert value(after, "persistream_tokens_total") - value(before, "persistream_tokens_total") == 36
    done = value(after, "persistream_streams_finished_total", status="DONE")
    assert done - value(before, "persistream_streams_finished_total", status="DONE") == 3
    ttft = "persistream_time_to_first_token_seconds_count"
    assert value(after, ttft) - value(before, ttft) == 3
    writes = "persistream_chunk_write_seconds_count"
    assert value(after, writes) - value(before, writes) >= 3  # at least one chunk per answer
    assert value(after, "persistream_streams_live") == 0


async def test_live_and_observer_gauges_follow_an_answer(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = [f" slow{n}" for n in range(60)]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.05))
    async with GraphQLWS(server.graphql_ws) as client:
        driver = Tap.driver(client, stream_id)
        observers = [Tap.observer(client, stream_id) for _ in range(3)]
        for tap in [driver, *observers]:
            await tap.until_started()
        during = await scrape(server)
        assert value(during, "persistream_streams_live") == 1
        assert value(during, "persistream_observers") == 3
        for tap in [driver, *observers]:
            await tap.result()
    for _ in range(100):  # the observers' subscriptions end just after their last event
        if value(await scrape(server), "persistream_observers") == 0:
            break
        await asyncio.sleep(0.05)
    assert value(await scrape(server), "persistream_observers") == 0
    assert value(await scrape(server), "persistream_streams_live") == 0


def test_metrics_can_be_turned_off(make_server: ServerFactory) -> None:
    server = make_server(PERSISTREAM_METRICS="false")
    assert httpx.get(f"{server.url}/metrics", timeout=10).status_code == 404
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def test_metrics_obey_the_host_allow_list(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/metrics", headers={"host": "evil.example"}, timeout=10)
    assert response.status_code == 400
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.headers["x-content-type-options"] == "nosniff"
