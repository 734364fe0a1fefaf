"""A rolling deploy on PostgreSQL and Redis. SIGTERM to one of two processes, each generating an answer:
- the stopping process's own answer finishes: its driver gets DONE with the whole text, and so does an observer on
  the other process;
- a client of the stopping process observing the other process's answer is closed at once (1012) and resumes on
  the process that stays, without losing or repeating text;
- the stopped process exits 0."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.scale.conftest import ScaleServerFactory, pg_url
from tests.scale.flows import Sub, body, new_stream, sentence_tokens
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import check_events

pytestmark = pytest.mark.scale


async def test_sigterm_mid_answer_on_one_of_two_processes(
    make_scale_servers: ScaleServerFactory, fake_openai: FakeOpenAI, pg_database: str
) -> None:
    stopping, staying = make_scale_servers(2, pg_url(pg_database), PERSISTREAM_SHUTDOWN_GRACE="30")
    assert stopping.process is not None
    tokens = sentence_tokens(60)
    expected = "".join(tokens)
    local, _ = await new_stream(stopping, fake_openai, Script(tokens, delay=0.05))  # about 3 s each
    remote, _ = await new_stream(staying, fake_openai, Script(tokens, delay=0.05))
    driver = Sub(stopping, local, driver=True)
    elsewhere = Sub(staying, local)
    remote_driver = Sub(staying, remote, driver=True)
    remote_observer = Sub(stopping, remote)
    await driver.until_text(20)
    await elsewhere.until_text(1)
    await remote_observer.until_text(20)
    stopping.process.send_signal(signal.SIGTERM)

    await remote_observer.wait(10)
    assert remote_observer.error is not None and remote_observer.final is None, "closed before the end"
    assert not driver.final, "the closed observer had to wait for the local answer"
    held = len(remote_observer.text)
    resumed = Sub(staying, remote, from_offset=held)

    for sub in await asyncio.gather(driver.wait(), elsewhere.wait(), remote_driver.wait(), resumed.wait()):
        assert sub.error is None, sub.error
        assert sub.events[-1]["status"] == "DONE"
        assert check_events(sub.events, sub.start) == expected[sub.start :]
    assert remote_observer.text + resumed.text == expected
    assert await asyncio.to_thread(stopping.process.wait, 20) == 0
    for stream_id in (local, remote):
        stored = await body(staying, stream_id)
        assert (stored["status"], stored["text"]) == ("DONE", expected)
