"""Graceful shutdown on SIGTERM: the answer being generated goes on for up to PERSISTREAM_SHUTDOWN_GRACE and ends as
it would have; its driver's WebSocket stays open until the final event; an idle WebSocket is closed at once with
1012 (reconnect elsewhere); past the grace the answer ends ERROR with its text kept; the process exits 0."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
import time
from pathlib import Path

import websockets

from tests.conftest import ServerFactory
from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import GraphQLWS, check_events
from tests.support.rounds import rounds
from tests.support.server import ServerProcess
from tests.support.streams import Tap, start_stream, wait_until


def stored(db_path: Path, stream_id: str) -> tuple[str, str]:
    """(status, text) of a stream, read straight from the SQLite file once the server is gone."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        (status,) = conn.execute("SELECT status FROM streams WHERE id = ?", (stream_id,)).fetchone()
        rows = conn.execute("SELECT text FROM chunks WHERE stream_id = ? ORDER BY seq", (stream_id,)).fetchall()
    return status, "".join(text for (text,) in rows)


async def exit_code(server: ServerProcess, timeout: float) -> int:
    assert server.process is not None
    code = await asyncio.to_thread(server.process.wait, timeout)
    server.check_log_for_secrets()
    return code


def script(count: int, delay: float) -> tuple[list[str], Script]:
    tokens = [f" t{i}" + ("." if i % 7 == 6 else "") for i in range(count)]
    return tokens, Script(tokens, delay=delay)


async def test_sigterm_lets_the_answer_finish_and_closes_idle_sockets_with_1012(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "drain.db"
    server = make_server(db, PERSISTREAM_SHUTDOWN_GRACE="30")
    assert server.process is not None
    tokens, answer = script(50, 0.05)  # about 2.5 s
    stream_id, _ = await start_stream(server, fake_openai, answer)
    async with GraphQLWS(server.graphql_ws) as client, GraphQLWS(server.graphql_ws) as idle:
        driver = Tap.driver(client, stream_id)
        observer = Tap.observer(client, stream_id)
        await driver.until_text(10)
        server.process.send_signal(signal.SIGTERM)
        # The idle socket is told to reconnect elsewhere at once, while the answer goes on.
        await wait_until(lambda: idle.ws.close_code is not None, timeout=3)
        assert idle.ws.close_code == 1012
        assert not driver.finished
        # No new connection is taken meanwhile.
        try:
            async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]):  # type: ignore[list-item]
                raise AssertionError("a stopping server took a new connection")
        except OSError:
            pass
        events = await driver.result(timeout=20)
        watched = await observer.result(timeout=20)
        assert client.ws.close_code in (None, 1012)
        await wait_until(lambda: client.ws.close_code is not None, timeout=10)
        assert client.ws.close_code == 1012
    assert await exit_code(server, 20) == 0
    assert events[-1]["status"] == "DONE" and watched[-1]["status"] == "DONE"
    assert check_events(events) == check_events(watched) == "".join(tokens)
    assert stored(db, stream_id) == ("DONE", "".join(tokens))


async def test_past_the_grace_the_answer_ends_in_error_with_its_text(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    db = tmp_path / "grace.db"
    server = make_server(db, PERSISTREAM_SHUTDOWN_GRACE="1")
    assert server.process is not None
    tokens, answer = script(200, 0.05)  # about 10 s
    stream_id, _ = await start_stream(server, fake_openai, answer)
    async with GraphQLWS(server.graphql_ws) as client:
        driver = Tap.driver(client, stream_id)
        await driver.until_text(10)
        stopped_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        events = await driver.result(timeout=20)
        code = await exit_code(server, 20)
        took = time.monotonic() - stopped_at
    assert code == 0
    assert took < 6, f"exit {took:.1f} s after SIGTERM with a 1 s grace"
    final = events[-1]
    assert final["status"] == "ERROR" and final["error"]
    text = check_events(events)
    assert 0 < len(text) < len("".join(tokens)) and "".join(tokens).startswith(text)
    assert stored(db, stream_id) == ("ERROR", text)


async def test_sigint_drains_too(make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    db = tmp_path / "sigint.db"
    server = make_server(db, PERSISTREAM_SHUTDOWN_GRACE="30")
    assert server.process is not None
    tokens, answer = script(30, 0.04)
    stream_id, _ = await start_stream(server, fake_openai, answer)
    async with GraphQLWS(server.graphql_ws) as client:
        driver = Tap.driver(client, stream_id)
        await driver.until_text(5)
        server.process.send_signal(signal.SIGINT)
        events = await driver.result(timeout=20)
    assert await exit_code(server, 20) == 0
    assert events[-1]["status"] == "DONE" and check_events(events) == "".join(tokens)
    assert stored(db, stream_id) == ("DONE", "".join(tokens))


async def test_sigterm_at_random_moments_loses_nothing(
    make_server: ServerFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    """SIGTERM lands anywhere: before the first token, between chunk writes, near the end. Three answers at once."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    # Each round is a server start (a few seconds) and new random moments; more with PERSISTREAM_LONG_TESTS=1.
    for round_ in range(rounds(1, 2)):
        db = tmp_path / f"random-{round_}.db"
        server = make_server(db, PERSISTREAM_SHUTDOWN_GRACE="30")
        assert server.process is not None
        answers = [script(rng.randint(5, 40), rng.choice([0.0, 0.01, 0.03])) for _ in range(3)]
        streams = [(await start_stream(server, fake_openai, answer))[0] for _, answer in answers]
        async with GraphQLWS(server.graphql_ws) as client:
            drivers = [Tap.driver(client, stream_id) for stream_id in streams]
            await asyncio.sleep(rng.uniform(0.0, 0.8))
            server.process.send_signal(signal.SIGTERM)
            results = [await driver.result(timeout=20) for driver in drivers]
        code = await exit_code(server, 20)
        context = f"seed {seed}, round {round_}"
        assert code == 0, context
        for (tokens, _), stream_id, events in zip(answers, streams, results, strict=True):
            assert events[-1]["status"] == "DONE", context
            assert check_events(events) == "".join(tokens), context
            assert stored(db, stream_id) == ("DONE", "".join(tokens)), context
