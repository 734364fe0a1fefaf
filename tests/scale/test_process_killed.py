"""A server process killed with SIGKILL in the middle of an answer: after the stream timeout its stream is TIMEOUT
with the text it had persisted, observers on the surviving process end, and no other stream is affected."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.scale.conftest import ScaleServerFactory, pg_url
from tests.scale.flows import Sub, body, new_stream, sentence_tokens
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import check_events

pytestmark = pytest.mark.scale

STREAM_TIMEOUT = 3.0


async def test_a_killed_process_leaves_its_stream_timed_out_and_nothing_else(
    make_scale_servers: ScaleServerFactory, fake_openai: FakeOpenAI, pg_database: str
) -> None:
    env = {"PERSISTREAM_STREAM_TIMEOUT": str(STREAM_TIMEOUT)}
    a, b = make_scale_servers(2, pg_url(pg_database), **env)

    # Finished on A before the kill: must stay as it is.
    done_tokens = sentence_tokens(12, "d")
    done_id, _ = await new_stream(a, fake_openai, Script(done_tokens))
    await Sub(a, done_id, driver=True).wait()

    # Generated on A (about 12 s), watched from both processes; and one generated on B meanwhile.
    killed_tokens = sentence_tokens(400, "k")
    killed_id, _ = await new_stream(a, fake_openai, Script(killed_tokens, delay=0.03))
    watched_on_b = Sub(b, killed_id)
    watched_on_a = Sub(a, killed_id)
    driver_on_a = Sub(a, killed_id, driver=True)
    other_tokens = sentence_tokens(150, "o")
    other_id, _ = await new_stream(b, fake_openai, Script(other_tokens, delay=0.03))
    other_observer = Sub(b, other_id)
    other_driver = Sub(b, other_id, driver=True)
    await watched_on_b.until_text(100)
    await other_driver.until_text(1)

    seen_before_kill = watched_on_b.text
    a.kill()
    killed_at = time.monotonic()

    await watched_on_b.wait(timeout=STREAM_TIMEOUT + 10)
    assert watched_on_b.error is None, watched_on_b.error
    assert watched_on_b.ended_at is not None
    assert watched_on_b.ended_at - killed_at < STREAM_TIMEOUT + 3, "the observer on B waited too long"
    final = watched_on_b.events[-1]
    assert final["status"] == "TIMEOUT"
    assert final["error"] == f"The answer stopped making progress for {STREAM_TIMEOUT:g} seconds."
    stored = await body(b, killed_id)
    assert (stored["status"], stored["error"]) == ("TIMEOUT", final["error"])
    # The persisted text is intact: all the observer had seen before the kill, a true prefix of the answer.
    assert check_events(watched_on_b.events) == stored["text"]
    assert stored["text"].startswith(seen_before_kill)
    assert "".join(killed_tokens).startswith(stored["text"]) and stored["text"] != "".join(killed_tokens)

    # Subscriptions to the dead process are cut, not left hanging.
    await asyncio.gather(watched_on_a.wait(), driver_on_a.wait())
    assert watched_on_a.error is not None and driver_on_a.error is not None

    # The other streams: the one on B finishes normally, the finished one is unchanged.
    await asyncio.gather(other_driver.wait(), other_observer.wait())
    assert check_events(other_driver.events) == check_events(other_observer.events) == "".join(other_tokens)
    assert (await body(b, other_id))["status"] == "DONE"
    assert await body(b, done_id) == {
        "streamId": done_id,
        "text": "".join(done_tokens),
        "status": "DONE",
        "error": None,
        "offset": len("".join(done_tokens)),
    }
    assert b.log().count(f"stream {killed_id} timed out") == 1
