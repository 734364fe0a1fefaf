"""The hub over real backends, in one process: what the server-level tests cannot see from outside.

- a burst of concurrent publishes reaches a watcher complete and in order over Redis and over PostgreSQL NOTIFY
  (whose backend fails on concurrent publishes unless they are serialised), and a chunk too large for NOTIFY
  arrives without its text instead of breaking the link;
- a Redis that stops answering (SIGSTOP: connections stay open, nothing comes back) is detected, watchers are
  told to read the database, and the link comes back when Redis does, without the hub ever hanging.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

import pytest

from persistream.engine.events import StreamStatus
from persistream.engine.hub import Hub
from persistream.engine.interest import Watcher
from persistream.engine.messages import Chunk, Final, HubMessage
from tests.scale.conftest import REDIS_URL, pg_url
from tests.support.faults import RedisServer

pytestmark = pytest.mark.scale


async def drain(watcher: Watcher, count: int, timeout: float = 10.0) -> list[HubMessage]:
    received: list[HubMessage] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        items, _ = await watcher.next(0.2)
        received += items
    return received


async def wait_connected(hub: Hub, value: bool, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while hub.connected is not value:
        assert time.monotonic() < deadline, f"hub.connected not {value} within {timeout} s"
        await asyncio.sleep(0.02)
    return time.monotonic()


@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_concurrent_publishes_arrive_complete_and_in_order(backend: str, pg_database: str) -> None:
    url = REDIS_URL if backend == "redis" else pg_url(pg_database, driver="postgres")
    sender, receiver = Hub(url), Hub(url)
    await sender.start()
    await receiver.start()
    try:
        assert sender.connected and receiver.connected
        with receiver.watch("stream-1") as watcher:
            # The stream's channel is subscribed when it is first watched: publishes count from its confirmation.
            assert await watcher.until_confirmed(5.0)
            messages = [Chunk("stream-1", q, q, "é" * (q % 7)) for q in range(1, 301)]
            sent = await asyncio.gather(*(sender.publish(m) for m in messages))
            assert all(sent)
            # 3000 three-byte characters: over NOTIFY's 8000-byte limit, so it travels without its text.
            await sender.publish(Chunk("stream-1", 301, 3301, "€" * 3000))
            received = await drain(watcher, 301)
        assert received[:300] == messages
        assert received[300] == Chunk("stream-1", 301, 3301, None)
        assert sender.connected and receiver.connected and sender.reconnects == receiver.reconnects == 0
    finally:
        await sender.stop()
        await receiver.stop()


async def test_a_redis_that_stops_answering_is_detected_and_survived(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis.log").start()
    assert redis.process is not None
    hub = Hub(redis.url, ping_interval=0.3)
    await hub.start()
    try:
        assert hub.connected
        with hub.watch("s") as watcher:
            assert await hub.publish(Final("s", StreamStatus.DONE))
            assert (await drain(watcher, 1))[0] == Final("s", StreamStatus.DONE)

            os.kill(redis.process.pid, signal.SIGSTOP)
            stopped = time.monotonic()
            down = await wait_connected(hub, False, timeout=8)
            assert down - stopped < 4, "a silent Redis went unnoticed"
            _, stale = await watcher.next(0.1)
            assert stale, "watchers were not sent to the database"
            assert not await hub.publish(Final("s", StreamStatus.DONE))  # dropped, never blocks

            os.kill(redis.process.pid, signal.SIGCONT)
            resumed = time.monotonic()
            up = await wait_connected(hub, True, timeout=12)
            assert up - resumed < 8
            assert await hub.publish(Final("s", StreamStatus.CANCELLED))
            received = await drain(watcher, 1)
            assert received == [Final("s", StreamStatus.CANCELLED)]
        assert hub.reconnects >= 1
    finally:
        await hub.stop()
        if redis.process.poll() is None:
            os.kill(redis.process.pid, signal.SIGCONT)
        redis.kill()


@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_everything_published_after_a_channel_is_confirmed_arrives(backend: str, pg_database: str) -> None:
    """A stream's channel subscribed while its chunks are in flight: once the hub confirms it, no later publish is
    missed (what came before is the database's to give). Many rounds, each joining at a random moment, and
    leaving at another, so channels are dropped and subscribed again while messages keep coming."""
    url = REDIS_URL if backend == "redis" else pg_url(pg_database, driver="postgres")
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    sender, receiver = Hub(url), Hub(url)
    await sender.start()
    await receiver.start()
    published = 0
    stream = f"confirm-{seed}"

    async def publish_for_ever() -> None:
        nonlocal published
        while True:
            published += 1
            await sender.publish(Chunk(stream, published, published, "x"))
            await asyncio.sleep(rng.choice([0, 0, 0.0005, 0.002]))

    publisher = asyncio.create_task(publish_for_ever())
    try:
        for round_ in range(60):
            await asyncio.sleep(rng.uniform(0, 0.03))
            with receiver.watch(stream) as watcher:
                assert await watcher.until_confirmed(5.0), f"seed {seed}: round {round_} never confirmed"
                after = published  # every seq above this one was published after the confirmation
                await asyncio.sleep(rng.uniform(0.005, 0.05))
                until = published
                seen: set[int] = set()
                deadline = time.monotonic() + 5
                while not set(range(after + 1, until + 1)) <= seen and time.monotonic() < deadline:
                    items, _ = await watcher.next(0.5)
                    seen |= {m.seq for m in items if isinstance(m, Chunk)}
                missing = sorted(set(range(after + 1, until + 1)) - seen)
                assert not missing, f"seed {seed}: round {round_} missed {missing[:10]} (confirmed at {after})"
        assert sender.reconnects == receiver.reconnects == 0
    finally:
        publisher.cancel()
        await asyncio.gather(publisher, return_exceptions=True)
        await sender.stop()
        await receiver.stop()
