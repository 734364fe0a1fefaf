"""PostgreSQL unavailable for a few seconds in the middle of an answer: no text is lost.

Both server processes reach the database through a proxy the test cuts (every open connection dropped, new ones
refused) and restores, as a restarting PostgreSQL looks to its clients. With the `postgres://` broadcast the
NOTIFY link goes through the same proxy and breaks with it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import server_env
from tests.scale.conftest import REDIS_URL, pg_port, pg_url, start_servers
from tests.scale.flows import Sub, body, new_stream, sentence_tokens, wait_health, wait_until
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.faults import TcpProxy
from tests.support.gql import check_events, done_body
from tests.support.server import ServerProcess, stop_servers

pytestmark = pytest.mark.scale

OUTAGE = 3.0


@pytest.fixture(scope="module", params=["redis", "postgres"])
def proxied_pair(
    request: pytest.FixtureRequest, fake_openai: FakeOpenAI, pg_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TcpProxy, ServerProcess, ServerProcess]]:
    tmp: Path = tmp_path_factory.mktemp(f"pg-outage-{request.param}")
    proxy = TcpProxy(pg_port()).start()
    broadcast = REDIS_URL if request.param == "redis" else pg_url(pg_database, port=proxy.port, driver="postgres")
    env = server_env(
        fake_openai,
        tmp / "unused.db",
        PERSISTREAM_DATABASE_URL=pg_url(pg_database, port=proxy.port),
        PERSISTREAM_BROADCAST_URL=broadcast,
    )
    a = ServerProcess(env, log_path=tmp / "a.log")
    b = ServerProcess(env, log_path=tmp / "b.log")
    start_servers(a, b)
    yield proxy, a, b
    stop_servers(a, b)
    proxy.close()


async def test_no_text_is_lost_when_postgres_goes_away_mid_answer(
    proxied_pair: tuple[TcpProxy, ServerProcess, ServerProcess], fake_openai: FakeOpenAI
) -> None:
    proxy, a, b = proxied_pair
    for server in (a, b):
        await wait_health(server, "database", "ok")
        await wait_health(server, "broadcast", "up")
    rng = random.Random()
    # 50 ms a token for 5 s: the outage falls in the middle and the answer goes on after it.
    tokens = sentence_tokens(100)
    expected = "".join(tokens)
    stream_id, _ = await new_stream(a, fake_openai, Script(tokens, delay=0.05))
    observers = [Sub(a, stream_id), Sub(b, stream_id)]
    driver = Sub(a, stream_id, driver=True)
    await driver.until_text(rng.randint(20, 80))
    await wait_until(lambda: all(o.text for o in observers), what="observers progress")

    proxy.cut()
    cut = time.monotonic()
    await asyncio.sleep(OUTAGE)  # the outage itself: the model goes on producing meanwhile
    proxy.restore()
    restored = time.monotonic()

    await asyncio.gather(*(sub.wait() for sub in [driver, *observers]))
    assert driver.error is None
    assert check_events(driver.events) == expected
    assert driver.events[-1]["status"] == "DONE"
    during = [t for t, e in zip(driver.arrived, driver.events, strict=True) if cut < t < restored and e["delta"]]
    assert during, "tokens stopped reaching the driver while the database was away"
    for observer in observers:
        assert observer.error is None, observer.error
        assert check_events(observer.events) == expected
        assert observer.events[-1]["status"] == "DONE"
    for server in (a, b):
        assert await body(server, stream_id) == done_body(stream_id, expected)
    # The outage really hit the answer: its chunk writes failed and were retried.
    assert "database write failed" in a.log()
