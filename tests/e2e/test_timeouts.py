"""TIMEOUT comes from inactivity, with short timeouts set for the test: a stream nobody drives, and a model that
goes silent (its partial text kept, its connection closed). A slow model that keeps producing never times out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import server_env
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events, send
from tests.support.server import ServerProcess
from tests.support.streams import (
    Tap,
    assert_clean_log,
    assert_user_safe,
    query_body,
    start_stream,
    unique,
    wait_closed,
)

PENDING_TIMEOUT = 1.0
STREAM_TIMEOUT = 1.5
# The silence before the first delta has its own limit (PERSISTREAM_FIRST_TOKEN_TIMEOUT, 600 s by default, for
# models that think in silence): set to the stream timeout here, so a model silent from the start times out as fast.
SHORT = {
    "PERSISTREAM_PENDING_TIMEOUT": str(PENDING_TIMEOUT),
    "PERSISTREAM_STREAM_TIMEOUT": str(STREAM_TIMEOUT),
    "PERSISTREAM_FIRST_TOKEN_TIMEOUT": str(STREAM_TIMEOUT),
}
# How late after its deadline a TIMEOUT may land: sweeper and heartbeat intervals, plus a loaded machine.
SLACK = 3.0


@pytest.fixture(scope="module")
def server(fake_openai: FakeOpenAI, module_tmp: Path) -> Iterator[ServerProcess]:
    """One server with the short timeouts for the whole module (a server takes seconds to start)."""
    env = server_env(fake_openai, module_tmp / "timeouts.db", **SHORT)
    process = ServerProcess(env, log_path=module_tmp / "timeouts-server.log").start()
    yield process
    process.stop()


async def test_stream_never_driven_times_out(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    name = unique("undriven")
    marker = fake_openai.add(name, Script([" never", " asked"]))
    sent_at = time.monotonic()
    stream_id = (await send(server.graphql_http, f"Nobody drives this {marker}"))["responseStreamId"]
    async with GraphQLWS(server.graphql_ws) as client:
        waiting = await Tap.observer(client, stream_id).result(timeout=PENDING_TIMEOUT + SLACK + 5)
        ended_after = time.monotonic() - sent_at
        assert waiting[0]["status"] == "PENDING"
        final = waiting[-1]
        assert (final["delta"], final["offset"], final["status"]) == ("", 0, "TIMEOUT")
        assert_user_safe(final["error"])
        assert PENDING_TIMEOUT <= ended_after < PENDING_TIMEOUT + SLACK, ended_after
        # A driver that turns up now starts nothing.
        late = await Tap.driver(client, stream_id).result()
        assert late == [final]
    assert await query_body(server, stream_id) == {
        "streamId": stream_id,
        "text": "",
        "status": "TIMEOUT",
        "error": final["error"],
        "offset": 0,
    }
    assert fake_openai.requests_for(name) == []


async def test_silent_model_times_out_keeping_its_text(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    # Silent from the start; or one flushed sentence, then buffered text, then silence with the connection open.
    tokens = [" One", " sentence.", " And", " then", " nothing", " more"]
    for hang_after in (0, 4):
        stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=0.01, hang_after=hang_after))
        kept = "".join(tokens[:hang_after])
        async with GraphQLWS(server.graphql_ws) as driver_ws, GraphQLWS(server.graphql_ws) as observer_ws:
            observer = Tap.observer(observer_ws, stream_id)
            driver = Tap.driver(driver_ws, stream_id)
            await driver.until_started()
            await driver.until_text(len(kept))
            silent_since = driver.arrived[-1]
            driven = await driver.result(timeout=STREAM_TIMEOUT + SLACK + 5)
            silent_for = driver.arrived[-1] - silent_since
            observed = await observer.result()

        final = driven[-1]
        assert final["status"] == "TIMEOUT"
        assert_user_safe(final["error"])
        # Not before the model was silent for the timeout (less a little: the client's clock sees the last token
        # late), and not long after.
        assert STREAM_TIMEOUT * 0.8 <= silent_for < STREAM_TIMEOUT + SLACK, silent_for
        for events in (driven, observed):
            assert check_events(events) == kept
            assert events[-1]["status"] == "TIMEOUT"
            assert events[-1]["error"] == final["error"]
        assert await query_body(server, stream_id) == {
            "streamId": stream_id,
            "text": kept,
            "status": "TIMEOUT",
            "error": final["error"],
            "offset": len(kept),
        }
        # The hung HTTP stream to the model was closed, not left hanging.
        [request] = fake_openai.requests_for(name)
        await wait_closed(request)
        assert not request.finished
        assert request.tokens_sent == hang_after
    assert_clean_log(server)


async def test_slow_steady_model_outlives_the_stream_timeout(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = [" slow", " but", " steady,", " token", " after", " token", " it", " gets", " there."]
    delay = STREAM_TIMEOUT / 5
    expected = "".join(tokens)
    stream_id, name = await start_stream(server, fake_openai, Script(tokens, delay=delay))
    async with GraphQLWS(server.graphql_ws) as driver_ws, GraphQLWS(server.graphql_ws) as observer_ws:
        observer = Tap.observer(observer_ws, stream_id)
        driver = Tap.driver(driver_ws, stream_id)
        driven = await driver.result(timeout=len(tokens) * delay + 10)
        observed = await observer.result()
    assert driver.arrived[-1] - driver.arrived[0] > 1.5 * STREAM_TIMEOUT, "the answer was not longer than the timeout"
    for events in (driven, observed):
        assert check_events(events) == expected
        assert events[-1]["status"] == "DONE"
    body = await query_body(server, stream_id)
    assert (body["text"], body["status"], body["error"]) == (expected, "DONE", None)
    [request] = fake_openai.requests_for(name)
    assert request.finished
