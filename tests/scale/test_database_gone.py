"""PostgreSQL away for longer than the generation may wait: the answer ends in ERROR, the driver is told at once,
and the database says so as soon as it is back. Driven through the Python API, with a short outage limit."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest

from persistream.core import StreamEngine, StreamEvent, StreamStatus
from persistream.db.database import Database
from persistream.engine.hub import Hub
from persistream.engine.writer import DB_UNAVAILABLE
from tests.scale.conftest import REDIS_URL, pg_port, pg_url
from tests.support.faults import TcpProxy

pytestmark = pytest.mark.scale

OUTAGE_LIMIT = 1.5


async def endless() -> AsyncIterator[str]:
    for i in range(10_000):
        yield f"Sentence {i}. "
        await asyncio.sleep(0.02)


async def test_an_outage_past_the_limit_ends_the_answer_in_error(pg_database: str) -> None:
    proxy = TcpProxy(pg_port()).start()
    engine = StreamEngine(Database(pg_url(pg_database, port=proxy.port)), Hub(REDIS_URL))
    engine.limits = dataclasses.replace(engine.limits, db_outage_limit=OUTAGE_LIMIT)
    await engine.start()
    try:
        stream_id = await engine.create_stream()
        events: list[StreamEvent] = []

        async def drive() -> None:
            async for event in engine.drive(stream_id, endless):
                events.append(event)

        driver = asyncio.create_task(drive())
        while True:  # until some of the answer is stored
            if len((await engine.body(stream_id)).text) >= 50:
                break
            await asyncio.sleep(0.02)

        proxy.cut()
        cut = time.monotonic()
        await asyncio.wait_for(driver, OUTAGE_LIMIT + 5)
        told = time.monotonic() - cut
        proxy.restore()

        final = events[-1]
        assert (final.status, final.error) == (StreamStatus.ERROR, DB_UNAVAILABLE)
        assert OUTAGE_LIMIT - 0.1 < told < OUTAGE_LIMIT + 3, f"the driver was told after {told:.1f} s"
        # Tokens went on reaching the driver during the outage; its text is cut back to what was stored.
        assert final.offset < sum(len(e.delta) for e in events)
        driven = "".join(e.delta for e in events)[: final.offset]

        deadline = time.monotonic() + 10
        while (stored := await _body_or_none(engine, stream_id)) is None or stored.status != StreamStatus.ERROR:
            assert time.monotonic() < deadline, f"the database still says {stored}"
            await asyncio.sleep(0.05)
        assert (stored.text, stored.error) == (driven, DB_UNAVAILABLE)
    finally:
        await engine.stop()
        await engine.db.close()
        proxy.close()


async def _body_or_none(engine: StreamEngine, stream_id: str) -> object:
    try:
        return await engine.body(stream_id)
    except Exception:  # the pool may still hand out a connection the outage broke
        return None
