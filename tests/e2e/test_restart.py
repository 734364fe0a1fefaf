"""Stopping and restarting the server on the same SQLite file loses nothing: threads, messages and final texts are
all still there, and a stream that was STREAMING when the server went away ends in a final status that keeps the
text persisted before the stop (a graceful stop also stores what it had buffered; a killed process loses at most
its unflushed tail, and another process's sweeper ends the stream in TIMEOUT)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import FINAL, GraphQLWS, check_events, gql_data, send
from tests.support.server import ServerProcess
from tests.support.streams import (
    Tap,
    assert_clean_log,
    assert_user_safe,
    query_body,
    unique,
    wait_final,
)

DUMP = """query { threads(last: 1000) { id title createdAt messages {
  id threadId prompt responseStreamId createdAt response { streamId text status error offset } } } }"""


async def dump(server: ServerProcess) -> list[dict[str, Any]]:
    threads: list[dict[str, Any]] = (await gql_data(server.graphql_http, DUMP))["threads"]
    return threads


async def answer(
    server: ServerProcess, fake: FakeOpenAI, script: Script, prompt: str, thread: str | None = None
) -> dict[str, Any]:
    """Send a prompt answered by `script` and drive it to its final status; the message."""
    marker = fake.add(unique("restart"), script)
    message = await send(server.graphql_http, f"{prompt} {marker}", thread)
    async with GraphQLWS(server.graphql_ws) as client:
        events = await Tap.driver(client, message["responseStreamId"]).result()
    assert events[-1]["status"] in FINAL
    return message


def long_script(tag: str, count: int = 400, delay: float = 0.01) -> Script:
    return Script([f" {tag}{i}" + ("." if i % 9 == 8 else "") for i in range(count)], delay=delay)


async def test_everything_survives_a_restart(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "restart.db"
    # No grace: the live answer below is stopped at once (stops that let answers finish: tests/e2e/test_shutdown.py).
    first = make_server(db, PERSISTREAM_SHUTDOWN_GRACE="0")
    done = await answer(first, fake_openai, Script(["Kept", " across", " restarts", " 🎉", ".\r\n", "Yes", "."]), "One")
    thread = done["threadId"]
    await answer(first, fake_openai, Script(["Second", " answer", "."]), "Two", thread)
    failed = await answer(first, fake_openai, Script([" partial", " text", " lost?"], error_after=2), "Three", thread)
    other = await answer(first, fake_openai, Script(["Another", " thread", "."]), "Other")
    pending = await send(first.graphql_http, "Nobody drives this one", other["threadId"])
    # A stream that is STREAMING when the server stops.
    live_tokens = long_script("live")
    live_marker = fake_openai.add(unique("live"), live_tokens)
    live = await send(first.graphql_http, f"Long answer {live_marker}", thread)
    async with GraphQLWS(first.graphql_ws) as client:
        driver = Tap.driver(client, live["responseStreamId"])
        await driver.until_text(150)
        seen = driver.text
        before = await dump(first)
        assert first.stop() == 0, first.log()[-2000:]
        with contextlib.suppress(ConnectionError):  # the stopping server closed the driver's socket
            await driver.task

    second = make_server(db)
    after = await dump(second)
    # Everything but the live stream is exactly as it was; the live one went from STREAMING to a final status.
    by_stream = {m["responseStreamId"]: m for t in after for m in t["messages"]}
    stopped = by_stream[live["responseStreamId"]]["response"]
    for thread_before, thread_after in zip(before, after, strict=True):
        for message in thread_before["messages"]:
            if message["responseStreamId"] == live["responseStreamId"]:
                message["response"] = stopped
        assert thread_before == thread_after
    assert [t["id"] for t in after][:2] == [other["threadId"], thread]

    texts = {m["responseStreamId"]: m["response"] for t in after for m in t["messages"]}
    assert texts[done["responseStreamId"]]["text"] == "Kept across restarts 🎉.\r\nYes."
    assert texts[done["responseStreamId"]]["status"] == "DONE"
    assert texts[failed["responseStreamId"]]["text"] == " partial text"
    assert texts[failed["responseStreamId"]]["status"] == "ERROR"
    assert texts[pending["responseStreamId"]] == {
        "streamId": pending["responseStreamId"],
        "text": "",
        "status": "PENDING",
        "error": None,
        "offset": 0,
    }
    # The graceful stop kept what the driver saw (and what was buffered), and nothing the model never sent.
    assert stopped["status"] in FINAL - {"DONE"}, stopped
    assert stopped["text"].startswith(seen)
    assert "".join(live_tokens.tokens).startswith(stopped["text"])
    assert_user_safe(stopped["error"])

    # The restarted server serves the old streams and threads as before.
    async with GraphQLWS(second.graphql_ws) as client:
        observed = await Tap.observer(client, done["responseStreamId"]).result()
        assert check_events(observed) == "Kept across restarts 🎉.\r\nYes."
        late = await Tap.observer(client, live["responseStreamId"]).result()
        assert check_events(late) == stopped["text"]
        assert late[-1]["status"] == stopped["status"]
        # The pending stream is still drivable, and a new prompt gets the old answers as context.
        driven = await Tap.driver(client, pending["responseStreamId"]).result()
        assert driven[-1]["status"] == "DONE"
    followup = await answer(second, fake_openai, Script(["Ok", "."]), "Remember?", thread)
    [request] = [r for r in fake_openai.requests if r.messages[-1]["content"] == followup["prompt"]]
    assert {"role": "assistant", "content": "Kept across restarts 🎉.\r\nYes."} in request.messages
    for server in (first, second):
        assert_clean_log(server)


async def test_a_killed_server_s_stream_times_out_after_restart(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "killed.db"
    first = make_server(db)
    script = long_script("kill", count=600, delay=0.005)
    marker = fake_openai.add(unique("kill"), script)
    message = await send(first.graphql_http, f"Answer until killed {marker}")
    stream_id = message["responseStreamId"]
    async with GraphQLWS(first.graphql_ws) as client:
        driver = Tap.driver(client, stream_id)
        await driver.until_text(300)
        persisted = (await query_body(first, stream_id))["text"]
        assert persisted, "nothing persisted yet"
        first.kill()
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(driver.task, 5)

    # Another process (here: the restarted server) finds the generation's heartbeat stopped and ends it.
    second = make_server(db, PERSISTREAM_STREAM_TIMEOUT="1")
    body = await wait_final(second, stream_id, timeout=10)
    assert body["status"] == "TIMEOUT"
    assert_user_safe(body["error"])
    assert body["text"].startswith(persisted)  # nothing persisted before the kill is lost
    assert "".join(script.tokens).startswith(body["text"])
    assert body["offset"] == len(body["text"])
    async with GraphQLWS(second.graphql_ws) as client:
        observed = await Tap.observer(client, stream_id).result()
    assert check_events(observed) == body["text"]
    assert observed[-1]["status"] == "TIMEOUT"
    [thread] = [t for t in await dump(second) if t["id"] == message["threadId"]]
    assert thread["messages"][0]["response"] == body
    assert_clean_log(second)
