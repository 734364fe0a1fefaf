"""`persistream serve --workers N`: several worker processes behind one port, on PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from tests.scale.conftest import ScaleServerFactory, pg_url
from tests.scale.flows import Sub, body, new_stream, sentence_tokens, wait_until
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import check_events
from tests.support.server import ROOT, children

pytestmark = pytest.mark.scale


async def test_two_workers_share_streams_through_postgres_and_redis(
    make_scale_servers: ScaleServerFactory, fake_openai: FakeOpenAI, pg_database: str
) -> None:
    (server,) = make_scale_servers(1, pg_url(pg_database), workers=2)
    assert server.process is not None
    # uvicorn's supervisor, with a worker process each (one more child when it forks a resource tracker).
    await wait_until(lambda: len(children(server.process.pid)) >= 2, what="two workers")  # type: ignore[union-attr]
    tokens = sentence_tokens(40)
    expected = "".join(tokens)
    for _ in range(2):
        stream_id, _ = await new_stream(server, fake_openai, Script(tokens, delay=0.01))
        # Each connection lands on either worker: with eight observers both are all but sure to be involved.
        observers = [Sub(server, stream_id) for _ in range(8)]
        driver = Sub(server, stream_id, driver=True)
        await asyncio.gather(*(sub.wait() for sub in [driver, *observers]))
        for sub in [driver, *observers]:
            assert sub.error is None, sub.error
            assert check_events(sub.events) == expected
            assert sub.events[-1]["status"] == "DONE"
        assert (await body(server, stream_id))["text"] == expected
    # Each worker built and started its own app (and logs like a single process does).
    assert server.log().count("persistream ready") == 2


def test_workers_refuse_the_in_process_broadcast() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSISTREAM_", "OPENAI_"))}
    env.update(PERSISTREAM_BROADCAST_URL="memory://", PERSISTREAM_DATABASE_URL="sqlite+aiosqlite:///unused.db")
    result = subprocess.run(
        [sys.executable, "-m", "persistream", "serve", "--workers", "2"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PERSISTREAM_BROADCAST_URL" in result.stderr and "memory://" in result.stderr
