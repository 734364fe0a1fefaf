"""Resuming by cursor where the cursor's position alone could not say where the reader stands (two faults the chaos
runs found): a reader that was shown TEXT its generating process never stored keeps its `offset` when it resumes
on a stream still live (it only goes back on the final event), and a reader placed by a TEXT offset past what is
stored resumes by that offset, never from part 0 of an answer whose part 0 is not TEXT."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from persistream.db import streams
from persistream.engine import StreamEngine, StreamEvent, StreamStatus
from persistream.engine.cursor import UNPLACED, Position, decode, encode
from persistream.parts import PartEvent, PartKind, ReasoningDelta

REASONING = "Thinking it over first."
STORED = "Stored text. "
LATER = "Then more words."


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[StreamEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cursor.db'}"
    async with StreamEngine.from_urls(url, flush_ms=10, flush_chars=1000) as started:
        yield started


class HeldAnswer:
    """Reasoning, then TEXT, stored; then it waits for `go` before the rest: a stream live at a known stored log."""

    def __init__(self) -> None:
        self.go = asyncio.Event()

    async def source(self) -> AsyncIterator[PartEvent]:
        yield ReasoningDelta(REASONING)
        yield STORED
        await self.go.wait()
        yield LATER


async def live_with_stored_log(engine: StreamEngine) -> tuple[str, HeldAnswer, asyncio.Task[list[StreamEvent]]]:
    held = HeldAnswer()
    stream_id = await engine.create_stream()
    driver = asyncio.create_task(collect(engine.drive(stream_id, held.source)))
    for _ in range(500):
        row = await streams.get_stream(engine.db, stream_id)
        if row is not None and row.length == len(STORED):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the held answer's text was never stored")
    return stream_id, held, driver


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


async def test_a_reader_shown_text_never_stored_keeps_its_offset_until_the_end(engine: StreamEngine) -> None:
    stream_id, held, driver = await live_with_stored_log(engine)
    # A driver of a process that died had 9 more code points of TEXT than were stored, in part 1.
    shown = len(STORED) + 9
    place = decode(stream_id, encode(stream_id, Position(1, shown), shown))
    observer = engine.observe(stream_id, from_position=place.position, from_text=place.text)
    first = await anext(observer)
    assert first.status is StreamStatus.STREAMING
    assert first.offset == shown, "the offset went back to the stored length on a live stream"
    await engine.cancel(stream_id)
    rest = await collect(observer)
    assert rest[-1].status is StreamStatus.CANCELLED
    assert rest[-1].offset == len(STORED), "the final event reports the length the answer really has"
    assert all(e.offset == shown for e in rest[:-1])
    held.go.set()
    await driver


async def test_a_version_one_cursor_still_resumes(engine: StreamEngine) -> None:
    stream_id, held, driver = await live_with_stored_log(engine)
    place = decode(stream_id, encode(stream_id, Position(1, 4)))  # made before cursors carried the TEXT offset
    assert place.text is None
    observer = engine.observe(stream_id, from_position=place.position, from_text=place.text)
    first = await anext(observer)
    assert first.delta == STORED[4:] and first.offset == len(STORED)
    held.go.set()
    rest = await collect(observer)
    assert "".join(e.delta for e in rest) == LATER
    await driver


async def test_a_reader_placed_past_the_stored_text_resumes_by_that_offset(engine: StreamEngine) -> None:
    stream_id, held, driver = await live_with_stored_log(engine)
    wanted = len(STORED) + 5
    observer = engine.observe(stream_id, wanted)
    first = await anext(observer)
    assert first.end == UNPLACED, "a reader with no place yet must not claim one in part 0"
    cursor = encode(stream_id, first.end, first.offset)
    place = decode(stream_id, cursor)
    assert (place.position, place.text) == (UNPLACED, wanted)

    resumed = engine.observe(stream_id, from_position=place.position, from_text=place.text)
    assert (await anext(resumed)).part_deltas == ()  # nothing again: not the reasoning, not the stored text
    held.go.set()
    for events in (await collect(observer), await collect(resumed)):
        assert events[-1].status is StreamStatus.DONE
        assert "".join(e.delta for e in events) == (STORED + LATER)[wanted:]
        assert all(d.kind is PartKind.TEXT for e in events for d in e.part_deltas)
    await driver
