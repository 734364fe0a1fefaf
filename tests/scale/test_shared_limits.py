"""The `sendMessage` limits hold across two server processes sharing one PostgreSQL database: calls through
either process count against one rate window and one number of live answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from tests.scale.conftest import ScaleServerFactory, create_database, drop_database, pg_url
from tests.support.gql import SEND, gql, refused_send, send

pytestmark = pytest.mark.scale

RATE = 4


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """Its own database, so that no other test's calls count against the same identity."""
    name = create_database()
    yield pg_url(name)
    drop_database(name)


async def test_the_rate_limit_counts_calls_through_both_processes(
    make_scale_servers: ScaleServerFactory, fresh_database: str
) -> None:
    a, b = make_scale_servers(2, fresh_database, PERSISTREAM_RATE_LIMIT=f"{RATE}/hour")
    while True:
        window = int(time.time() // 3600)
        # Twice the limit, at once, half through each process: exactly RATE pass, whatever the interleaving.
        results = await asyncio.gather(
            *(gql(p.graphql_http, SEND, {"prompt": f"call {i}"}) for i in range(RATE) for p in (a, b))
        )
        if int(time.time() // 3600) == window:
            break
    accepted = [r for r in results if r.get("data")]
    refused = [r for r in results if r.get("errors")]
    assert len(accepted) == RATE, results
    assert len(refused) == RATE, results
    assert {r["errors"][0]["extensions"]["code"] for r in refused} == {"RATE_LIMITED"}
    for process in (a, b):
        await refused_send(process.graphql_http, "still over")


async def test_the_live_streams_limit_counts_answers_started_through_both_processes(
    make_scale_servers: ScaleServerFactory, fresh_database: str
) -> None:
    a, b = make_scale_servers(2, fresh_database, PERSISTREAM_MAX_LIVE_STREAMS="2")
    await send(a.graphql_http, "on a")
    await send(b.graphql_http, "on b")
    for process in (a, b):
        await refused_send(process.graphql_http, "a third")
