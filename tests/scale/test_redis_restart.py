"""Redis restarted in the middle of answers: observers on every process still end with exactly the whole text and
the final status within a few seconds of Redis coming back, and the driver never notices."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import server_env
from tests.scale.conftest import pg_url, start_servers
from tests.scale.flows import Sub, body, new_stream, sentence_tokens, wait_health, wait_until
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.faults import RedisServer
from tests.support.gql import check_events
from tests.support.server import ServerProcess, stop_servers

pytestmark = pytest.mark.scale

# How long Redis stays away, and how much later than its return the observers may end.
OUTAGE = 1.5
CATCH_UP = 3.0


@pytest.fixture(scope="module")
def redis_and_pair(
    fake_openai: FakeOpenAI, pg_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RedisServer, ServerProcess, ServerProcess]]:
    tmp: Path = tmp_path_factory.mktemp("redis-restart")
    redis = RedisServer(tmp / "redis.log").start()
    env = server_env(
        fake_openai,
        tmp / "unused.db",
        PERSISTREAM_DATABASE_URL=pg_url(pg_database),
        PERSISTREAM_BROADCAST_URL=redis.url,
    )
    a = ServerProcess(env, log_path=tmp / "a.log")
    b = ServerProcess(env, log_path=tmp / "b.log")
    start_servers(a, b)
    yield redis, a, b
    stop_servers(a, b)
    redis.kill()


@pytest.mark.parametrize("answer_ends", ["during the outage", "after the outage"])
async def test_observers_and_driver_survive_a_redis_restart(
    redis_and_pair: tuple[RedisServer, ServerProcess, ServerProcess], fake_openai: FakeOpenAI, answer_ends: str
) -> None:
    redis, a, b = redis_and_pair
    for server in (a, b):
        await wait_health(server, "broadcast", "up")
    rng = random.Random()
    # 40 ms a token: about 1.6 s (ends while Redis is away) or 4 s (goes on after it is back).
    tokens = sentence_tokens(40 if answer_ends == "during the outage" else 100)
    expected = "".join(tokens)
    stream_id, _ = await new_stream(a, fake_openai, Script(tokens, delay=0.04))
    observers = [Sub(a, stream_id), Sub(b, stream_id), Sub(b, stream_id)]
    driver = Sub(a, stream_id, driver=True)
    await driver.until_text(rng.randint(10, 40))
    await wait_until(lambda: all(len(o.text) > 0 for o in observers), what="observers progress")

    redis.kill()
    killed = time.monotonic()
    for server in (a, b):  # the health view tells operators the link is down
        await wait_health(server, "broadcast", "down", timeout=5)
    await asyncio.sleep(max(0.0, killed + OUTAGE - time.monotonic()))  # the answer goes on meanwhile
    redis.start()
    back = time.monotonic()

    for server in (a, b):
        up = await wait_health(server, "broadcast", "up", timeout=CATCH_UP + 2)
        assert up - back < CATCH_UP, f"the broadcast link came back {up - back:.1f} s after Redis"
    await asyncio.gather(*(sub.wait() for sub in [driver, *observers]))

    # The driver saw every token, in order, without a pause for the outage: it never noticed.
    assert driver.error is None
    assert check_events(driver.events) == expected
    assert driver.events[-1]["status"] == "DONE"
    during = [t for t, e in zip(driver.arrived, driver.events, strict=True) if killed < t < back and e["delta"]]
    assert during, "the driver received nothing while Redis was away"
    answer_done = driver.ended_at
    assert answer_done is not None
    for observer in observers:
        assert observer.error is None, observer.error
        assert check_events(observer.events) == expected
        assert observer.events[-1]["status"] == "DONE"
        assert observer.ended_at is not None
        late = observer.ended_at - max(back, answer_done)
        assert late < CATCH_UP, f"an observer ended {late:.1f} s after Redis and the answer were both done"
    assert (await body(b, stream_id))["text"] == expected

    # And the link carries live messages again: a new answer reaches an observer on the other process.
    stream_id, _ = await new_stream(a, fake_openai, Script(sentence_tokens(10), delay=0.01))
    observer = Sub(b, stream_id)
    driver = Sub(a, stream_id, driver=True)
    await asyncio.gather(driver.wait(), observer.wait())
    assert check_events(observer.events) == check_events(driver.events) == "".join(sentence_tokens(10))
