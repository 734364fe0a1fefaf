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


async def settled_tasks(server: ServerProcess, at_most: float) -> float:
    """The task gauge once it has come down to `at_most` (the tasks of closed subscriptions end just after)."""
    tasks = value(await scrape(server), "persistream_asyncio_tasks")
    for _ in range(100):
        if tasks <= at_most:
            break
        await asyncio.sleep(0.05)
        tasks = value(await scrape(server), "persistream_asyncio_tasks")
    return tasks


async def test_task_gauge_rises_with_subscriptions_and_falls_after_they_close(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    # A stream nobody drives stays PENDING: its observers wait, each holding its subscription's tasks.
    stream_id, _ = await start_stream(server, fake_openai, Script([" never"]))
    baseline = await settled_tasks(server, 0)  # whatever the idle server runs (no lower bound to wait for)
    assert baseline >= 1  # at least the task answering this scrape
    count = 20
    async with GraphQLWS(server.graphql_ws) as client:
        observers = [Tap.observer(client, stream_id) for _ in range(count)]
        for tap in observers:
            await tap.until_started()
        during = value(await scrape(server), "persistream_asyncio_tasks")
        assert during >= baseline + count, (baseline, during)
        for tap in observers:
            await tap.leave()
    after = await settled_tasks(server, baseline + 2)
    assert after <= baseline + 2, (baseline, during, after)  # a scrape's own request task may overlap


async def test_database_connection_gauge_stays_within_the_pool(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    # SQLAlchemy's queue pool for a SQLite file: 5 kept, 10 more on demand.
    pool_bound = 5 + 10
    answers = [[f" p{i}-{n}" for n in range(8)] for i in range(4)]
    peak = 0.0
    drives = [asyncio.create_task(drive(server, fake_openai, tokens)) for tokens in answers]
    while not all(task.done() for task in drives):
        samples = await scrape(server)
        in_use = value(samples, "persistream_database_connections", state="in_use")
        idle = value(samples, "persistream_database_connections", state="idle")
        assert min(in_use, idle) >= 0, (in_use, idle)
        assert in_use + idle <= pool_bound, (in_use, idle)
        peak = max(peak, in_use + idle)
        await asyncio.sleep(0.01)
    for task, tokens in zip(drives, answers, strict=True):
        assert check_events(task.result()) == "".join(tokens)
    samples = await scrape(server)
    for _ in range(100):  # a unit of work gives its connection back just after its commit
        if value(samples, "persistream_database_connections", state="in_use") == 0:
            break
        await asyncio.sleep(0.05)
        samples = await scrape(server)
    assert value(samples, "persistream_database_connections", state="in_use") == 0
    # The pool keeps what it opened: at least the one the answers' writes used, never more than its bound.
    assert 1 <= value(samples, "persistream_database_connections", state="idle") <= pool_bound
    assert peak <= pool_bound


async def test_process_memory_and_open_files_are_exposed(server: ServerProcess) -> None:
    samples = await scrape(server)
    assert value(samples, "process_resident_memory_bytes") > 10_000_000
    assert value(samples, "process_open_fds") > 3
