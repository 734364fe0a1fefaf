"""Two server processes on one PostgreSQL and one broadcast (Redis, or PostgreSQL NOTIFY) behave as one."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import server_env
from tests.scale.conftest import REDIS_URL, pg_url, start_servers
from tests.scale.flows import Sub, body, cancel, new_stream, request_of, sentence_tokens, wait_closed
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import check_events, done_body
from tests.support.server import ServerProcess, stop_servers

pytestmark = pytest.mark.scale


@pytest.fixture(scope="module", params=["redis", "postgres"])
def pair(
    request: pytest.FixtureRequest, fake_openai: FakeOpenAI, pg_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    broadcast = REDIS_URL if request.param == "redis" else pg_url(pg_database, driver="postgres")
    tmp: Path = tmp_path_factory.mktemp(f"pair-{request.param}")
    env = server_env(
        fake_openai,
        tmp / "unused.db",
        PERSISTREAM_DATABASE_URL=pg_url(pg_database),
        PERSISTREAM_BROADCAST_URL=broadcast,
    )
    a = ServerProcess(env, log_path=tmp / "a.log")
    b = ServerProcess(env, log_path=tmp / "b.log")
    start_servers(a, b)
    yield a, b
    stop_servers(a, b)


async def test_driver_on_a_observers_on_both_end_with_the_same_text(
    pair: tuple[ServerProcess, ServerProcess], fake_openai: FakeOpenAI
) -> None:
    a, b = pair
    rng = random.Random()
    for _ in range(3):
        tokens = sentence_tokens(rng.randint(30, 60))
        expected = "".join(tokens)
        stream_id, _ = await new_stream(a, fake_openai, Script(tokens, delay=0.01))
        # Observers from the start on both processes, the driver on A, and a late observer on B.
        observers = [Sub(b, stream_id), Sub(b, stream_id), Sub(a, stream_id)]
        driver = Sub(a, stream_id, driver=True)
        await driver.until_text(rng.randint(1, len(expected) // 2))
        late_offset = rng.randint(0, len(driver.text))
        observers.append(Sub(b, stream_id, from_offset=late_offset))
        for sub in [driver, *observers]:
            await sub.wait()
            assert sub.error is None, sub.error
        assert check_events(driver.events) == expected
        assert driver.events[-1]["status"] == "DONE"
        for sub in observers[:3]:
            assert check_events(sub.events) == expected
            assert sub.events[-1]["status"] == "DONE"
        assert check_events(observers[3].events, late_offset) == expected[late_offset:]
        for server in (a, b):
            assert await body(server, stream_id) == done_body(stream_id, expected)


async def test_cancel_sent_to_b_stops_the_generation_on_a_within_a_second(
    pair: tuple[ServerProcess, ServerProcess], fake_openai: FakeOpenAI
) -> None:
    a, b = pair
    rng = random.Random()
    tokens = sentence_tokens(400)
    for _ in range(3):
        stream_id, name = await new_stream(a, fake_openai, Script(tokens, delay=0.02))
        driver = Sub(a, stream_id, driver=True)
        observer = Sub(b, stream_id)
        await driver.until_text(rng.randint(1, 60))
        asked = time.monotonic()
        answer = await cancel(b, stream_id)
        answered = time.monotonic()
        closed = await wait_closed(request_of(fake_openai, name))
        assert closed - asked < 1.0, f"the model stream closed {closed - asked:.2f} s after the cancel"
        assert answered - asked < 2.0
        assert answer["status"] == "CANCELLED"
        await asyncio.gather(driver.wait(), observer.wait())
        assert driver.error is None and observer.error is None
        # Everyone agrees on the text kept: a prefix of the answer, what the driver was last told.
        assert driver.events[-1]["status"] == observer.events[-1]["status"] == "CANCELLED"
        kept = check_events(driver.events)
        assert check_events(observer.events) == kept == answer["text"]
        assert "".join(tokens).startswith(kept) and len(kept) < len("".join(tokens))
        assert (await body(a, stream_id))["text"] == kept
