"""Observer delivery latency across server processes: how much later than the driver an observer on another
process receives each chunk, through Redis and through PostgreSQL NOTIFY, measured in one run.

    .venv/bin/python -m bench.observer_latency [--tokens 300] [--interval 0.02] [--rounds 3]

Two `persistream serve` processes, A and B, share a fresh PostgreSQL database (dropped at the end) and a broadcast
URL: the machine's Redis, then PostgreSQL's NOTIFY. An OpenAI-compatible test server sends tokens that each end a
line, one every `interval` seconds, so each token is stored and published as a chunk of its own. The driver reads
the answer on A, an observer on B and one on A (same process, for reference); for every chunk the figure is the
time the observer got it minus the time the driver got the same text: a database write, a publish, the
broadcast, the other process's hub and a GraphQL event. Prints medians and 99th percentiles in milliseconds.

PostgreSQL and Redis addresses: PERSISTREAM_BENCH_PG (an admin DSN) and PERSISTREAM_BENCH_REDIS.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from persistream.db.migrations import upgrade
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import SEND, STREAM_BODY, STREAM_CHAT, GraphQLWS, gql_data
from tests.support.server import ServerProcess

PG_ADMIN = os.environ.get("PERSISTREAM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("PERSISTREAM_BENCH_REDIS", "redis://127.0.0.1:6379")


def database_url(name: str, scheme: str) -> str:
    return f"{scheme}://{PG_ADMIN.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"


async def admin(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_database(name: str) -> None:
    await admin(f'CREATE DATABASE "{name}"')
    engine = create_async_engine(database_url(name, "postgresql+asyncpg"))
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def subscribe(url: str, query: str, variables: dict[str, Any], field: str) -> list[tuple[float, int, str]]:
    """(arrival time, offset, delta) of every event until the subscription completes."""
    arrivals: list[tuple[float, int, str]] = []
    async with GraphQLWS(url) as client:
        async for data in client.subscribe(query, variables, timeout=120):
            event = data[field]
            arrivals.append((time.perf_counter(), event["offset"], event["delta"]))
    return arrivals


def lags(driver: list[tuple[float, int, str]], observer: list[tuple[float, int, str]]) -> list[float]:
    """Milliseconds between the driver and the observer receiving each piece of text."""
    offsets = [offset for _, offset, _ in driver]
    result = []
    for arrived, offset, delta in observer:
        if not delta:
            continue
        index = bisect.bisect_left(offsets, offset)  # the driver's first event reaching this offset
        result.append((arrived - driver[index][0]) * 1000)
    return result


async def one_answer(
    a: ServerProcess, b: ServerProcess, fake: FakeOpenAI, tokens: int, interval: float
) -> dict[str, list[float]]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    marker = fake.add(name, Script([f"token {i}\n" for i in range(tokens)], delay=interval))
    message = (await gql_data(a.graphql_http, SEND, {"prompt": f"bench {marker}"}))["sendMessage"]
    stream_id = message["responseStreamId"]
    observers = [
        asyncio.create_task(subscribe(server.graphql_ws, STREAM_BODY, {"id": stream_id}, "streamBody"))
        for server in (b, a)
    ]
    await asyncio.sleep(0.2)  # both observers are subscribed before the first token
    driver = await subscribe(a.graphql_ws, STREAM_CHAT, {"id": stream_id}, "streamChat")
    on_b, on_a = await asyncio.gather(*observers)
    assert on_b[-1][1] == on_a[-1][1] == driver[-1][1], "the subscribers disagree on the text"
    return {"other_process": lags(driver, on_b), "same_process": lags(driver, on_a)}


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2),
        "events": len(ordered),
    }


async def measure(
    fake: FakeOpenAI, db_name: str, broadcast: str, tokens: int, interval: float, rounds: int, tmp: Path
) -> dict[str, object]:
    env = {
        "PERSISTREAM_DATABASE_URL": database_url(db_name, "postgresql+asyncpg"),
        "PERSISTREAM_BROADCAST_URL": broadcast,
        "PERSISTREAM_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": fake.base_url,
        "PERSISTREAM_MODEL": "bench",
    }
    kind = broadcast.split("://", 1)[0]
    a = ServerProcess(env, log_path=tmp / f"{kind}-a.log").start()
    b = ServerProcess(env, log_path=tmp / f"{kind}-b.log").start()
    try:
        await one_answer(a, b, fake, 20, interval)  # warm up: connections, pools, first requests
        collected: dict[str, list[float]] = {"other_process": [], "same_process": []}
        for _ in range(rounds):
            for key, values in (await one_answer(a, b, fake, tokens, interval)).items():
                collected[key] += values
    finally:
        a.stop()
        b.stop()
    return {key: summary(values) for key, values in collected.items()}


async def run(tokens: int, interval: float, rounds: int) -> dict[str, object]:
    db_name = f"persistream_bench_{uuid.uuid4().hex[:12]}"
    await create_database(db_name)
    fake = FakeOpenAI()
    fake.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results: dict[str, object] = {"tokens_per_answer": tokens, "token_interval_s": interval, "rounds": rounds}
            for label, broadcast in (("redis", REDIS_URL), ("postgres", database_url(db_name, "postgres"))):
                results[label] = await measure(fake, db_name, broadcast, tokens, interval, rounds, Path(tmp))
            return results
    finally:
        fake.stop()
        await admin(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.tokens, args.interval, args.rounds)), indent=2))


if __name__ == "__main__":
    main()
