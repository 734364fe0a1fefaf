"""The `sendMessage` limits hold across two server processes sharing one PostgreSQL database: calls through
either process count against one rate window and one number of live answers."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.scale.conftest import ScaleServerFactory, create_database, drop_database, pg_url
from tests.support.gql import SEND, gql, refused_send, send
from tests.support.server import ServerProcess

pytestmark = pytest.mark.scale

RATE = 4
LIVE = 3


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


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
async def test_sends_at_the_same_instant_never_pass_the_live_streams_limit(
    make_scale_servers: ScaleServerFactory, fresh_database: str, database: str, tmp_path: Path
) -> None:
    """Many sends at once, through both processes: exactly the limit is accepted, never one more (the count and
    the insert are one step, not a check then an insert)."""
    url = fresh_database if database == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    a, b = make_scale_servers(2, url, PERSISTREAM_MAX_LIVE_STREAMS=str(LIVE), PERSISTREAM_AUTH="proxy")
    seed = random.randrange(1 << 30)
    rounds = random.Random(seed)
    for round_ in range(3):
        # Each round a new identity (proxy auth), so earlier rounds' PENDING answers do not count.
        headers = {"x-forwarded-user": f"racer-{seed}-{round_}"}
        delays = [rounds.random() * 0.01 for _ in range(3 * LIVE)]

        results = await asyncio.gather(*(send_after(d, (a, b)[i % 2], headers) for i, d in enumerate(delays)))
        accepted = [r for r in results if r.get("data")]
        codes = {r["errors"][0]["extensions"]["code"] for r in results if r.get("errors")}
        assert len(accepted) == LIVE, f"seed {seed}, round {round_}: {len(accepted)} accepted"
        assert codes == {"RATE_LIMITED"}, (seed, codes)


async def send_after(delay: float, process: ServerProcess, headers: dict[str, str]) -> dict[str, Any]:
    await asyncio.sleep(delay)
    return await gql(process.graphql_http, SEND, {"prompt": "at once"}, headers=headers)
