"""The engine from plain Python: no GraphQL, no HTTP; a temporary SQLite file and the in-process broadcast."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from persistream.core import StreamEngine, StreamEvent, StreamStatus
from tests.support.server import ROOT


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[StreamEngine]:
    async with StreamEngine.from_urls(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}", flush_ms=50) as started:
        yield started


def pieces(count: int) -> Iterator[str]:
    for i in range(count):
        yield f"w{i}{'.' if i % 7 == 6 else ''} "


async def slow_source(count: int, delay: float = 0.002) -> AsyncIterator[str]:
    for piece in pieces(count):
        await asyncio.sleep(delay)
        yield piece


def text_of(events: list[StreamEvent]) -> str:
    return "".join(e.delta for e in events)


async def test_drive_observe_and_read_back(engine: StreamEngine) -> None:
    stream_id = await engine.create_stream()
    expected = "".join(pieces(60))
    observer = asyncio.create_task(_collect(engine.observe(stream_id)))
    driven = await _collect(engine.drive(stream_id, lambda: slow_source(60)))
    observed = await observer
    assert text_of(driven) == text_of(observed) == expected
    assert driven[-1].status == observed[-1].status == StreamStatus.DONE
    assert driven[-1].offset == observed[-1].offset == len(expected)
    body = await engine.body(stream_id)
    assert (body.text, body.status) == (expected, StreamStatus.DONE)


async def test_second_driver_only_observes_and_source_runs_once(engine: StreamEngine) -> None:
    for _ in range(10):
        stream_id = await engine.create_stream()
        calls = 0

        def source() -> AsyncIterator[str]:
            nonlocal calls
            calls += 1
            return slow_source(20, 0.001)

        results = await asyncio.gather(*(_collect(engine.drive(stream_id, source)) for _ in range(4)))
        assert calls == 1
        expected = "".join(pieces(20))
        assert all(text_of(events) == expected for events in results)


async def test_abandoned_driver_does_not_stop_generation(engine: StreamEngine) -> None:
    stream_id = await engine.create_stream()
    async for event in engine.drive(stream_id, lambda: slow_source(40)):
        if event.offset > 10:
            break
    final = [e async for e in engine.observe(stream_id)][-1]
    assert final.status == StreamStatus.DONE
    assert (await engine.body(stream_id)).text == "".join(pieces(40))


async def test_cancel_keeps_text_seen_by_the_driver(engine: StreamEngine) -> None:
    for _ in range(5):
        stream_id = await engine.create_stream()
        seen = ""
        async for event in engine.drive(stream_id, lambda: slow_source(10_000, 0.001)):
            seen += event.delta
            if len(seen) > random.randint(5, 200) and event.status == StreamStatus.STREAMING:
                body = await engine.cancel(stream_id)
                assert body.status == StreamStatus.CANCELLED
        body = await engine.body(stream_id)
        assert body.status == StreamStatus.CANCELLED
        assert body.text == seen  # everything the driver saw was stored, nothing more
        assert "".join(pieces(10_000)).startswith(body.text)
        assert (await engine.cancel(stream_id)) == body  # idempotent


async def test_source_failure_ends_in_error_with_text_kept(engine: StreamEngine) -> None:
    async def failing() -> AsyncIterator[str]:
        yield "Half an answer. "
        await asyncio.sleep(0.01)
        raise RuntimeError("secret internals at /srv/app.py")

    stream_id = await engine.create_stream()
    events = await _collect(engine.drive(stream_id, failing))
    assert events[-1].status == StreamStatus.ERROR
    assert events[-1].error is not None and "secret" not in events[-1].error
    body = await engine.body(stream_id)
    assert (body.text, body.status, body.error) == ("Half an answer. ", StreamStatus.ERROR, events[-1].error)


async def test_zero_delay_source_does_not_starve_other_tasks(engine: StreamEngine) -> None:
    async def instant() -> AsyncIterator[str]:
        for _ in range(200_000):
            yield "x"

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    stream_id = await engine.create_stream()
    clock = asyncio.create_task(ticker())
    events = await _collect(engine.drive(stream_id, instant))
    clock.cancel()
    assert text_of(events) == "x" * 200_000
    assert ticks > 5  # the loop kept running other tasks while the source produced
    assert len(events) < 200_000 / 10  # tokens were coalesced, not sent one event each


def test_python_api_example_runs_and_is_the_one_documented(tmp_path: Path) -> None:
    example = ROOT / "examples" / "python_api.py"
    assert example.read_text().strip() in (ROOT / "docs" / "python.md").read_text()
    result = subprocess.run([sys.executable, str(example)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Persistent streams survive reloads, crashes and slow clients. "
    assert lines[1] == "DONE 62 code points stored"
    assert lines[2] == "DONE 'streams survive reloads, crashes and slow clients. '"


async def _collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]
