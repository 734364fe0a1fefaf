"""Claims under concurrency, on SQLite and on PostgreSQL: 50 answers claimed at the same moment, each by two drivers
racing, through a real server and the real openai SDK. Every answer is generated exactly once (the model is asked
once per stream), every driver sees the whole stored text, and nothing fails while waiting on the database."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.scale.conftest import ScaleServerFactory, pg_url
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import STREAM_CHAT, GraphQLWS, check_events, collect
from tests.support.streams import query_body, start_stream

STREAMS = 50
TOKENS = [" claimed", " once,", " read", " by", " both."]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('claims') / 'claims.db'}"
    return pg_url(str(request.getfixturevalue("pg_database")))


async def test_fifty_streams_claimed_at_once_generate_exactly_once(
    make_scale_servers: ScaleServerFactory, fake_openai: FakeOpenAI, database_url: str
) -> None:
    [server] = make_scale_servers(1, database_url, "memory://", PERSISTREAM_MAX_SUBSCRIPTIONS="200")
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    streams = [
        await start_stream(server, fake_openai, Script(TOKENS, delay=0.002), name="claim") for _ in range(STREAMS)
    ]

    async def drive(client: GraphQLWS, stream_id: str) -> list[dict[str, object]]:
        await asyncio.sleep(rng.random() * 0.01)
        return await collect(client.subscribe(STREAM_CHAT, {"id": stream_id}, timeout=60), "streamChat")

    async with GraphQLWS(server.graphql_ws) as first, GraphQLWS(server.graphql_ws) as second:
        results = await asyncio.gather(
            *(drive(client, stream_id) for stream_id, _ in streams for client in (first, second))
        )
    expected = "".join(TOKENS)
    for events in results:
        assert check_events(events) == expected, f"seed {seed}"
        assert events[-1]["status"] == "DONE", f"seed {seed}: {events[-1]}"
    for stream_id, name in streams:
        assert len(fake_openai.requests_for(name)) == 1, (
            f"seed {seed}: {name} asked {len(fake_openai.requests_for(name))} times"
        )
        assert (await query_body(server, stream_id))["text"] == expected
    log = server.log()
    assert "database is locked" not in log and "giving up on the database" not in log
    assert "database write failed" not in log, "a writer failed and retried"
