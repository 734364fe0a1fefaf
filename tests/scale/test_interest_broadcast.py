"""The interest-based broadcast across three real processes on PostgreSQL and a Redis of the test's own: each process
subscribes only to the streams its observers follow, and every observer and cancel guarantee still holds.

A and B follow with a 30 s slow check and a 30 s database check for cancels, so what reaches their observers and
generations quickly came through the broadcast alone; C's hub drops 30 % of the stream messages it publishes.
- observers joining (and leaving, and joining again) at random moments on every process, while chunks are in
  flight, receive every chunk exactly once and the final status; on A's and B's answers, whatever was stored before
  a pause of the model is with every observer before the pause ends (a channel subscribed while a chunk was in
  flight lost nothing, with no slow check to hide it);
- a stream's channel has one subscriber per process that observes it, and none once its observers are gone;
- Redis restarted mid-answer, with observers joining during the outage: all end exact, soon after Redis is back;
- a cancel sent to a process that follows nothing of the stream stops the generation on another within a second.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis import asyncio as aioredis

from persistream.engine.interest import CONTROL_CHANNEL, stream_channel
from tests.conftest import server_env
from tests.scale.conftest import pg_url, start_servers
from tests.scale.flows import Sub, body, cancel, new_stream, request_of, sentence_tokens, wait_closed
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.faults import RedisServer
from tests.support.gql import check_events
from tests.support.rounds import rounds
from tests.support.server import ServerProcess, stop_servers

pytestmark = pytest.mark.scale

COMMAND = (sys.executable, "-m", "tests.support.hub_faults_server")
# Tokens the model sends before each pause, the pause in seconds, and when in it the observers are checked: late
# enough for a loaded machine, well before the next burst (or a 30 s slow check) could bring a lost chunk.
BURST, PAUSE, CHECK_AT = 10, 2.5, 2.0
# A's and B's slow check, in seconds: long, so that what reaches them quickly came through the broadcast alone.
SLOW_CHECK = 30
# Answers of three processes at once per round (PERSISTREAM_LONG_TESTS=1 runs more: tests/support/rounds.py).
ROUNDS = rounds(2, 4)


@dataclass
class Cluster:
    redis: RedisServer
    a: ServerProcess
    b: ServerProcess
    c: ServerProcess
    dropped_file: Path

    @property
    def servers(self) -> list[ServerProcess]:
        return [self.a, self.b, self.c]

    def dropped(self) -> int:
        return int(self.dropped_file.read_text()) if self.dropped_file.exists() else 0


@pytest.fixture(scope="module")
def cluster(fake_openai: FakeOpenAI, pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp: Path = tmp_path_factory.mktemp("interest")
    redis = RedisServer(tmp / "redis.log").start()
    common = {"PERSISTREAM_DATABASE_URL": pg_url(pg_database), "PERSISTREAM_BROADCAST_URL": redis.url}
    slow = str(SLOW_CHECK)
    strict = server_env(fake_openai, tmp / "unused.db", FEED_CHECK_INTERVAL=slow, STOP_CHECK_INTERVAL=slow, **common)
    lossy = server_env(fake_openai, tmp / "unused.db", HUB_DROP="0.3", HUB_DROP_COUNT=str(tmp / "dropped"), **common)
    a, b, c = (
        ServerProcess(env, log_path=tmp / f"{name}.log", command=COMMAND)
        for name, env in (("a", strict), ("b", strict), ("c", lossy))
    )
    try:
        start_servers(a, b, c)
        yield Cluster(redis, a, b, c, tmp / "dropped")
    finally:
        stop_servers(a, b, c)
        redis.kill()


def burst_script(bursts: int, delay: float = 0.02) -> tuple[list[str], Script]:
    # A sentence ends every 5 tokens, so each burst's last chunk is stored as the burst ends.
    tokens = sentence_tokens(BURST * bursts)
    return tokens, Script(tokens, delay=delay, pause=(BURST, PAUSE))


def check_ended(sub: Sub, expected: str, status: str = "DONE") -> None:
    assert sub.error is None, sub.error
    assert check_events(sub.events, sub.start) == expected[sub.start :]
    assert sub.events[-1]["status"] == status


async def one_answer(cluster: Cluster, generator: ServerProcess, fake_openai: FakeOpenAI, rng: random.Random) -> int:
    """One answer driven on `generator`, observers coming and going on every process; how many observers ended."""
    bursts = 3
    tokens, script = burst_script(bursts)
    expected = "".join(tokens)
    stream_id, _ = await new_stream(generator, fake_openai, script)
    driver = Sub(generator, stream_id, driver=True)
    observers: list[Sub] = []
    left: list[tuple[Sub, str]] = []
    server_of: dict[int, ServerProcess] = {}

    async def churn() -> None:
        # Joins at random moments (most of them while chunks are in flight), some leaving and joining again.
        for _ in range(8):
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            server = rng.choice(cluster.servers)
            offset = rng.choice([0, rng.randint(0, len(driver.text))])
            observers.append(Sub(server, stream_id, from_offset=offset))
            server_of[id(observers[-1])] = server
            if rng.random() < 0.3 and len(observers) > 1:
                leaving = observers.pop(rng.randrange(len(observers) - 1))
                await leaving.close()
                left.append((leaving, expected))

    churner = asyncio.create_task(churn())
    if generator is not cluster.c:  # C drops chunks: its observers may wait for the next one or the slow check
        for burst in range(1, bursts):
            stored = len("".join(tokens[: BURST * burst]))
            await driver.until_text(stored, timeout=15)
            await asyncio.sleep(CHECK_AT)
            for sub in list(observers):
                if sub.events and sub.final is None and not sub.task.done():
                    have = sub.start + len(sub.text)
                    where = cluster.servers.index(server_of[id(sub)])
                    assert have >= stored, f"an observer on {'abc'[where]} had {have} of {stored} characters mid-pause"
    await churner
    await driver.wait(60)
    check_ended(driver, expected)
    for sub in observers:
        # C's hub may drop the final status itself: A's and B's observers of C's answer then learn it from their
        # feed's slow check, 30 s after the last message they heard (about when the driver ended).
        await sub.wait(SLOW_CHECK + 15)
        check_ended(sub, expected)
    for sub, text in left:  # what a subscriber that left had received was right, up to where it left
        received = "".join(e["delta"] for e in sub.events)
        assert text[sub.start : sub.start + len(received)] == received
    return len(observers)


async def test_observers_joining_at_random_moments_on_every_process_get_every_chunk_once(
    cluster: Cluster, fake_openai: FakeOpenAI
) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    ended = 0
    try:
        for _ in range(ROUNDS):
            counts = await asyncio.gather(
                *(one_answer(cluster, server, fake_openai, random.Random(rng.random())) for server in cluster.servers)
            )
            ended += sum(counts)
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}") from exc
    assert ended >= ROUNDS * 3 * 4, f"seed {seed}: only {ended} observers ended"
    assert cluster.dropped() > 0, "C's hub dropped nothing"


async def test_a_streams_channel_is_held_by_the_processes_observing_it_and_dropped_after(
    cluster: Cluster, fake_openai: FakeOpenAI
) -> None:
    redis = aioredis.Redis.from_url(cluster.redis.url)

    async def subscribers(channel: str) -> int:
        return int((await redis.pubsub_numsub(channel))[0][1])

    async def until_subscribers(channel: str, count: int) -> None:
        deadline = time.monotonic() + 5
        while (now := await subscribers(channel)) != count:
            assert time.monotonic() < deadline, f"{channel} has {now} subscribers, not {count}"
            await asyncio.sleep(0.02)

    try:
        assert await subscribers(CONTROL_CHANNEL) == 3  # every process, always: cancels and pings
        tokens, script = burst_script(6, delay=0.05)
        stream_id, _ = await new_stream(cluster.a, fake_openai, script)
        channel = stream_channel(stream_id)
        driver = Sub(cluster.a, stream_id, driver=True)
        await driver.until_text(5)
        assert await subscribers(channel) == 0  # the generating process does not listen to its own answer
        on_b = [Sub(cluster.b, stream_id), Sub(cluster.b, stream_id)]
        await until_subscribers(channel, 1)  # two observers on B: one subscription
        on_c = Sub(cluster.c, stream_id)
        await until_subscribers(channel, 2)
        await on_c.close()
        await until_subscribers(channel, 1)  # C's last observer left: C dropped the channel
        for sub in [driver, *on_b]:
            await sub.wait(30)
            check_ended(sub, "".join(tokens))
        await until_subscribers(channel, 0)
    finally:
        await redis.aclose()


async def test_observers_joining_around_a_redis_restart_end_exact(cluster: Cluster, fake_openai: FakeOpenAI) -> None:
    rng = random.Random()
    tokens = sentence_tokens(100)
    expected = "".join(tokens)
    stream_id, _ = await new_stream(cluster.a, fake_openai, Script(tokens, delay=0.04))
    driver = Sub(cluster.a, stream_id, driver=True)
    observers = [Sub(server, stream_id) for server in cluster.servers]
    await driver.until_text(rng.randint(10, 60))

    cluster.redis.kill()
    killed = time.monotonic()
    for server in cluster.servers:  # joining while the broadcast is away: their channels wait for it
        await asyncio.sleep(rng.uniform(0.1, 0.4))
        observers.append(Sub(server, stream_id, from_offset=rng.randint(0, len(driver.text))))
    await asyncio.sleep(max(0.0, killed + 1.5 - time.monotonic()))
    cluster.redis.start()
    back = time.monotonic()
    observers += [Sub(server, stream_id) for server in cluster.servers]

    await driver.wait(60)
    check_ended(driver, expected)
    answer_done = driver.ended_at
    assert answer_done is not None
    for sub in observers:
        await sub.wait(30)
        check_ended(sub, expected)
        assert sub.ended_at is not None
        late = sub.ended_at - max(back, answer_done)
        # A and B have no slow check to speak of: they caught up when their channels were confirmed again. On a
        # quiet machine that is about 2.5 s (the link's next try, at most 2 s after Redis is back, then the
        # channels' confirmation and the feeds' reads); the rest is slack for a loaded one (4.1 s was seen).
        assert late < 6.0, f"an observer ended {late:.1f} s after Redis and the answer were both done"
    assert (await body(cluster.b, stream_id))["text"] == expected


async def test_a_cancel_sent_where_nobody_observes_reaches_the_generating_process(
    cluster: Cluster, fake_openai: FakeOpenAI
) -> None:
    for generator, sender in ((cluster.a, cluster.c), (cluster.b, cluster.a)):
        tokens = sentence_tokens(400)
        stream_id, name = await new_stream(generator, fake_openai, Script(tokens, delay=0.02))
        driver = Sub(generator, stream_id, driver=True)
        await driver.until_text(20)
        asked = time.monotonic()
        answer = await cancel(sender, stream_id)
        closed = await wait_closed(request_of(fake_openai, name))
        # The generating process checks the database for cancels every 5 s here: within a second is the broadcast.
        assert closed - asked < 1.0, f"the model stream closed {closed - asked:.2f} s after the cancel"
        assert answer["status"] == "CANCELLED"
        await driver.wait()
        assert check_events(driver.events) == answer["text"]
        assert driver.events[-1]["status"] == "CANCELLED"
