"""Observers (streamBody subscriptions) joining before, during and after a stream all end with exactly the
persisted text and the final status; `fromOffset` resumes, also from past the persisted text."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

from tests.support.fake_openai import FakeOpenAI, Script
from tests.support.gql import CANCEL, STREAM_BODY, GraphQLWS, check_events, gql_data
from tests.support.server import ServerProcess
from tests.support.streams import FrameLog, Tap, query_body, start_stream, wait_until


def sentence_tokens(rng: random.Random, count: int) -> list[str]:
    """Words with a sentence or line end now and then, so chunks are cut at many different places."""
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]
    return [" " + rng.choice(words) + rng.choice(["", "", "", "", ".", "!", "\n", ","]) for _ in range(count)]


async def test_observers_before_start_and_after_end(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    tokens = sentence_tokens(random.Random(1), 30)
    expected = "".join(tokens)
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.005))
    async with GraphQLWS(server.graphql_ws) as observers, GraphQLWS(server.graphql_ws) as driver:
        early = [Tap.observer(observers, stream_id) for _ in range(3)]
        await wait_until(lambda: all(tap.events for tap in early))
        for tap in early:
            # The first event comes at once, before anyone drives the stream.
            assert tap.events[0] == {
                "streamId": stream_id,
                "delta": "",
                "offset": 0,
                "status": "PENDING",
                "error": None,
            }
        driven = await Tap.driver(driver, stream_id).result()
        assert check_events(driven) == expected
        for tap in early:
            events = await tap.result()
            assert check_events(events) == expected
            assert events[-1]["status"] == "DONE"
            assert any(e["status"] == "STREAMING" for e in events), "the observer never saw the stream live"

        late = await Tap.observer(observers, stream_id).result()
        assert late == [
            {"streamId": stream_id, "delta": expected, "offset": len(expected), "status": "DONE", "error": None}
        ]
        for offset in (0, 1, len(expected) // 2, len(expected)):
            resumed = await Tap.observer(observers, stream_id, offset).result()
            assert resumed == [
                {
                    "streamId": stream_id,
                    "delta": expected[offset:],
                    "offset": len(expected),
                    "status": "DONE",
                    "error": None,
                }
            ]
    body = await query_body(server, stream_id)
    assert (body["text"], body["status"]) == (expected, "DONE")


async def test_observers_joining_at_random_moments(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """Many rounds; in each, observers join at random moments, some resuming from the driver's last offset."""
    rng = random.Random()
    first_seen: list[str] = []  # how each observer found the stream when it joined
    async with GraphQLWS(server.graphql_ws) as driver_ws, GraphQLWS(server.graphql_ws) as observer_ws:
        for _ in range(12):
            tokens = sentence_tokens(rng, rng.randint(20, 45))
            expected = "".join(tokens)
            delay = rng.uniform(0.001, 0.008)
            stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=delay))
            driver = Tap.driver(driver_ws, stream_id)
            joined: list[tuple[int, Tap]] = []

            async def join(
                at: float,
                resume: bool,
                stream_id: str = stream_id,
                driver: Tap = driver,
                joined: list[tuple[int, Tap]] = joined,
            ) -> None:
                await asyncio.sleep(at)  # a random moment of the stream's life, on purpose
                offset = driver.events[-1]["offset"] if resume and driver.events else 0
                joined.append((offset, Tap.observer(observer_ws, stream_id, offset)))

            span = len(tokens) * delay * 1.2
            await asyncio.gather(*(join(rng.uniform(0, span), rng.random() < 0.5) for _ in range(5)))
            driven = await driver.result()
            assert check_events(driven) == expected
            assert driven[-1]["status"] == "DONE"
            for offset, tap in joined:
                events = await tap.result()
                assert check_events(events, start=offset) == expected[offset:], (offset, events)
                assert events[-1]["status"] == "DONE"
                first_seen.append(events[0]["status"] + ("+resume" if offset else ""))
            body = await query_body(server, stream_id)
            assert (body["text"], body["status"]) == (expected, "DONE")
    # The point is joining mid-stream, fresh and resuming: make sure the random moments covered both.
    assert "STREAMING" in first_seen and "STREAMING+resume" in first_seen, first_seen


async def test_resume_from_past_the_persisted_text(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """A resuming driver may stand past what is stored: the observer waits for the text to reach it."""
    # No sentence ends: only the 100 ms flush timer persists text, so storage lags the model for a while.
    tokens = [f" tok{i}" for i in range(40)]
    expected = "".join(tokens)
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.02))
    async with GraphQLWS(server.graphql_ws) as driver_ws, GraphQLWS(server.graphql_ws) as observer_ws:
        pending_from = 7
        on_pending = Tap.observer(observer_ws, stream_id, pending_from)
        await wait_until(lambda: bool(on_pending.events))
        assert on_pending.events[0] == {
            "streamId": stream_id,
            "delta": "",
            "offset": pending_from,
            "status": "PENDING",
            "error": None,
        }

        driver = Tap.driver(driver_ws, stream_id)
        await driver.until_text(1)
        ahead = len(expected) - 12  # far beyond anything stored after the first token
        live = Tap.observer(observer_ws, stream_id, ahead)
        await wait_until(lambda: bool(live.events))
        assert live.events[0] == {
            "streamId": stream_id,
            "delta": "",
            "offset": ahead,
            "status": "STREAMING",
            "error": None,
        }

        assert check_events(await driver.result()) == expected
        for start, tap in ((pending_from, on_pending), (ahead, live)):
            events = await tap.result()
            assert check_events(events, start=start) == expected[start:]
            assert all(e["offset"] >= start for e in events)
            assert events[-1]["status"] == "DONE"

        # Past the end of a final stream: one event, no text, the final length (the subscriber cuts its copy).
        past = await Tap.observer(observer_ws, stream_id, len(expected) + 5).result()
        assert past == [{"streamId": stream_id, "delta": "", "offset": len(expected), "status": "DONE", "error": None}]


async def test_observers_that_leave_are_stopped(server: ServerProcess, fake_openai: FakeOpenAI) -> None:
    """Clients complete their subscriptions at random moments of a fast stream (so a completion often lands as
    a chunk arrives): the server stops each one; it does not go on sending events for it until the stream ends."""
    rng = random.Random()
    # One chunk per token, so the observers wake constantly; far longer than the test (it is cancelled).
    tokens = [f" t{i}." for i in range(20_000)]
    stream_id, _ = await start_stream(server, fake_openai, Script(tokens, delay=0.002))
    completed: list[tuple[FrameLog, str, float]] = []
    async with GraphQLWS(server.graphql_ws) as driver_ws, contextlib.AsyncExitStack() as stack:
        driver = Tap.driver(driver_ws, stream_id)
        await driver.until_text(1)
        logs = [await stack.enter_async_context(FrameLog(server.graphql_ws)) for _ in range(4)]
        # Enough cycles to make the race likely, however slow the machine is (the stream lasts about 40 s).
        deadline = time.monotonic() + 20
        while len(completed) < 30 and time.monotonic() < deadline:
            log = rng.choice(logs)
            n = len(completed)
            op_id = f"op{n}"
            # From where the driver stands, as a reloading page would: the first read stays small.
            variables = {"id": stream_id, "from": driver.events[-1]["offset"]}
            await log.send(
                {"id": op_id, "type": "subscribe", "payload": {"query": STREAM_BODY, "variables": variables}}
            )
            await log.until_next(op_id)  # following the stream now
            await asyncio.sleep(rng.uniform(0, 0.01))  # a random moment, on purpose
            completed.append((log, op_id, time.monotonic()))
            await log.send({"id": op_id, "type": "complete"})
        assert not driver.finished, "the stream ended before the observers left: the test proved nothing"
        await asyncio.sleep(0.5)  # long enough for a leaked observer to show itself (a chunk every few ms)
        await gql_data(server.graphql_http, CANCEL, {"id": stream_id})
        await driver.result()
    assert len(completed) > 20
    # Events already on their way when `complete` went out arrive within moments; a leaked observer goes on
    # (a chunk every few ms) until the stream is cancelled, 0.5 s later.
    leaked = {op_id: late for log, op_id, at in completed if (late := log.nexts(op_id, after=at + 0.3)) > 10}
    assert not leaked, leaked
