"""Two processes sweeping at once never finalize a stream twice, and never finalize a live one.

Both sweepers run every quarter of the shortest timeout over the same rows: streams nobody drives (they must
time out once), streams whose driver comes right around the pending timeout (claim and sweep race: exactly one
wins, and everyone sees the winner's outcome), and answers longer than the stream timeout (alive, never swept).
"""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.scale.conftest import ScaleServerFactory, pg_url
from tests.scale.flows import Sub, body, new_stream, sentence_tokens
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import check_events
from tests.support.rounds import rounds
from tests.support.server import ServerProcess

pytestmark = pytest.mark.scale

PENDING_TIMEOUT = 1.0
# Heartbeats come every quarter of it: a process must stall for 2 s before its live streams look dead.
STREAM_TIMEOUT = 3.0
PENDING_ERROR = f"Nobody started this answer within {PENDING_TIMEOUT:g} seconds."


async def drive_later(server: ServerProcess, stream_id: str, delay: float) -> Sub:
    await asyncio.sleep(delay)
    return await Sub(server, stream_id, driver=True).wait()


async def test_concurrent_sweepers_decide_once_and_spare_live_streams(
    make_scale_servers: ScaleServerFactory, fake_openai: FakeOpenAI, pg_database: str
) -> None:
    env = {"PERSISTREAM_PENDING_TIMEOUT": str(PENDING_TIMEOUT), "PERSISTREAM_STREAM_TIMEOUT": str(STREAM_TIMEOUT)}
    servers = make_scale_servers(2, pg_url(pg_database), **env)
    rng = random.Random()
    timed_out: list[str] = []
    finished: list[str] = []
    for _ in range(rounds(1, 2)):  # each round races afresh; more of them with PERSISTREAM_LONG_TESTS=1
        short = Script(sentence_tokens(10), delay=0.02)
        long_tokens = sentence_tokens(80, "l")  # 4 s: longer than the stream timeout
        abandoned = [(await new_stream(servers[i % 2], fake_openai, short))[0] for i in range(16)]
        watchers = [Sub(servers[rng.randrange(2)], sid) for sid in abandoned[:6]]
        racing = [(await new_stream(servers[i % 2], fake_openai, short))[0] for i in range(8)]
        live = [(await new_stream(servers[i % 2], fake_openai, Script(long_tokens, delay=0.05)))[0] for i in range(4)]
        live_drivers = [Sub(servers[i % 2], sid, driver=True) for i, sid in enumerate(live)]
        racers = [
            drive_later(servers[rng.randrange(2)], sid, rng.uniform(PENDING_TIMEOUT - 0.4, PENDING_TIMEOUT + 0.4))
            for sid in racing
        ]
        racer_results = await asyncio.gather(*racers)
        await asyncio.gather(*(w.wait() for w in [*watchers, *live_drivers]))

        for sid in abandoned:
            assert await body(servers[rng.randrange(2)], sid) == {
                "streamId": sid,
                "text": "",
                "status": "TIMEOUT",
                "error": PENDING_ERROR,
                "offset": 0,
            }
        for watcher in watchers:
            assert watcher.error is None
            assert [(e["status"], e["error"]) for e in watcher.events][-1] == ("TIMEOUT", PENDING_ERROR)
        timed_out += abandoned

        # Claim against sweep: the driver sees exactly what was stored, whoever won.
        for sid, driver in zip(racing, racer_results, strict=True):
            assert driver.error is None
            stored = await body(servers[0], sid)
            assert (driver.events[-1]["status"], driver.events[-1]["error"]) == (stored["status"], stored["error"])
            assert check_events(driver.events) == stored["text"]
            if stored["status"] == "DONE":
                assert stored["text"] == "".join(sentence_tokens(10))
                finished.append(sid)
            else:
                assert (stored["status"], stored["text"], stored["error"]) == ("TIMEOUT", "", PENDING_ERROR)
                timed_out.append(sid)

        # Answers that outlive the stream timeout are alive: heartbeats keep every sweeper away.
        for sid, driver in zip(live, live_drivers, strict=True):
            assert driver.error is None
            assert check_events(driver.events) == "".join(long_tokens)
            assert (await body(servers[1], sid))["status"] == "DONE"
            finished.append(sid)

    logs = servers[0].log() + servers[1].log()
    for sid in timed_out:
        assert logs.count(f"stream {sid} timed out") == 1, sid
    for sid in finished:
        assert f"stream {sid} timed out" not in logs
        assert logs.count(f"stream {sid} ended DONE") == 1, sid
