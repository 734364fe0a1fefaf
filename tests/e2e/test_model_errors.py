"""A model that fails, before its first token (HTTP errors) or in the middle of its answer (an error frame):
the driver, observers and the query all report ERROR with a message fit for a user, and the text the model
sent before failing is kept. Neither responses nor the server's log leak the key or a stack trace."""

from __future__ import annotations

import pytest

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events
from tests.support.server import ServerProcess
from tests.support.streams import Tap, assert_clean_log, assert_user_safe, query_body, start_stream, wait_until

TOKENS = [" The", " first", " sentence.", " Then", " a", " second", " one", " that", " breaks", " off."]


async def run_failing_stream(server: ServerProcess, fake: FakeOpenAI, script: Script) -> tuple[str, str, str]:
    """Drive a stream with an observer watching from before the start; (stream id, kept text, error)."""
    stream_id, _ = await start_stream(server, fake, script)
    async with GraphQLWS(server.graphql_ws) as driver_ws, GraphQLWS(server.graphql_ws) as observer_ws:
        observer = Tap.observer(observer_ws, stream_id)
        await wait_until(lambda: bool(observer.events))
        driven = await Tap.driver(driver_ws, stream_id).result()
        observed = await observer.result()
        late = await Tap.observer(observer_ws, stream_id).result()

    error = driven[-1]["error"]
    assert_user_safe(error)
    text = check_events(driven)
    for events in (driven, observed, late):
        assert check_events(events) == text
        assert events[-1]["status"] == "ERROR"
        assert events[-1]["error"] == error
    assert await query_body(server, stream_id) == {
        "streamId": stream_id,
        "text": text,
        "status": "ERROR",
        "error": error,
        "offset": len(text),
    }
    assert "ERROR" in server.log()  # the failure was logged...
    assert_clean_log(server)  # ...without the key the provider quoted, and without a stack trace
    return stream_id, text, error


@pytest.mark.parametrize("status", [500, 401])
async def test_model_fails_before_the_first_token(server: ServerProcess, fake_openai: FakeOpenAI, status: int) -> None:
    _, text, error = await run_failing_stream(server, fake_openai, Script(TOKENS, fail_status=status))
    assert text == ""
    if status == 401:
        assert "credentials" in error
    else:
        assert str(status) in error


@pytest.mark.parametrize("after", [0, 3, 5])
async def test_model_fails_mid_stream(server: ServerProcess, fake_openai: FakeOpenAI, after: int) -> None:
    """The partial text (before and after the last sentence end, so flushed and still buffered) is kept."""
    _, text, _ = await run_failing_stream(server, fake_openai, Script(TOKENS, delay=0.01, error_after=after))
    assert text == "".join(TOKENS[:after])
