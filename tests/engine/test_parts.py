"""Parts through the engine: what a source yields (text, reasoning, tool calls and results, usage) reaches the
driver live, is stored part by part, read back whole, and resumed by any observer from any place, exactly.

Every check compares against the parts the source yielded (the truth), part by part; racy ones run seeded rounds
and print their seed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import text

from persistream.db.database import Database
from persistream.engine import StreamEngine, StreamEvent, StreamStatus
from persistream.engine.cursor import START, Position
from persistream.engine.events import Part
from persistream.engine.hub import Hub
from persistream.engine.messages import Chunk, HubMessage
from persistream.llm.base import ModelError
from persistream.parts import PartEvent, PartKind, ReasoningDelta, ToolCallDelta, ToolResult, Usage

Expected = list[tuple[PartKind, str | None, str | None, bool, str]]  # kind, tool name, call id, is_error, text


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[StreamEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'parts.db'}"
    async with StreamEngine.from_urls(url, flush_ms=20, flush_chars=40) as started:
        yield started


def script(rng: random.Random) -> list[PartEvent]:
    """An answer of every kind, its text split at random places: reasoning, two tool calls and their results, text,
    an empty-argument call, more text, usage."""

    def split(whole: str) -> list[str]:
        cuts = sorted(rng.sample(range(1, len(whole)), k=min(len(whole) - 1, rng.randint(1, 6))))
        return [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]

    events: list[PartEvent] = [ReasoningDelta(piece) for piece in split("Let me think. The user wants the time.")]
    events += [ToolCallDelta("call_a", "clock", piece) for piece in split('{"zone": "UTC"}')]
    events += [ToolCallDelta("call_b", "weather", piece) for piece in split('{"city": "Paris"}')]
    events += [ToolResult("call_a", "clock", "2026-12-07T12:00:00Z"), ToolResult("call_b", "weather", "boom", True)]
    events += [*split("It is noon. "), ToolCallDelta("call_c", "ping", ""), *split("Done with é and 𝄞.")]
    events.append(Usage(10, 20, 5))
    return events


def expected_parts(events: Sequence[PartEvent]) -> Expected:
    parts: Expected = []
    for event in events:
        if isinstance(event, str):
            head = (PartKind.TEXT, None, None, False)
            piece = event
        elif isinstance(event, ReasoningDelta):
            head, piece = (PartKind.REASONING, None, None, False), event.text
        elif isinstance(event, ToolCallDelta):
            head, piece = (PartKind.TOOL_CALL, event.name, event.call_id, False), event.arguments
        elif isinstance(event, ToolResult):
            parts.append((PartKind.TOOL_RESULT, event.name, event.call_id, event.is_error, event.text))
            continue
        else:
            continue
        if parts and parts[-1][:4] == head and head[0] is not PartKind.TOOL_RESULT:
            parts[-1] = (*head, parts[-1][4] + piece)
        else:
            parts.append((*head, piece))
    return parts


def as_expected(parts: Sequence[Part]) -> Expected:
    return [(p.kind, p.tool_name, p.tool_call_id, p.is_error, p.text) for p in parts]


def replay(events: Sequence[StreamEvent], known: Expected | None = None) -> Expected:
    """The parts a subscriber has after these events (starting from `known`, what it had at its cursor)."""
    parts: dict[int, list[object]] = {i: list(p) for i, p in enumerate(known or [])}
    for event in events:
        for delta in event.part_deltas:
            if delta.index in parts:
                current = parts[delta.index]
                assert tuple(current[:4]) == (delta.kind, delta.tool_name, delta.tool_call_id, delta.is_error)
                current[4] = str(current[4]) + delta.delta
            else:
                assert delta.index == len(parts), f"part {delta.index} after {len(parts)} parts"
                parts[delta.index] = [delta.kind, delta.tool_name, delta.tool_call_id, delta.is_error, delta.delta]
    return [tuple(parts[i]) for i in sorted(parts)]  # type: ignore[misc]


def source_of(events: Sequence[PartEvent], rng: random.Random | None = None) -> AsyncIterator[PartEvent]:
    async def generate() -> AsyncIterator[PartEvent]:
        for event in events:
            if rng is not None and rng.random() < 0.3:
                await asyncio.sleep(rng.random() * 0.01)
            yield event

    return generate()


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in events]


def text_part_text(expected: Expected) -> str:
    return "".join(p[4] for p in expected if p[0] is PartKind.TEXT)


async def test_every_part_reaches_the_driver_the_store_and_an_observer(engine: StreamEngine) -> None:
    events = script(random.Random(1))
    truth = expected_parts(events)
    stream_id = await engine.create_stream()
    observer = asyncio.create_task(collect(engine.observe(stream_id)))
    driven = await collect(engine.drive(stream_id, lambda: source_of(events)))
    observed = await observer

    for seen in (driven, observed):
        assert replay(seen) == truth
        assert "".join(e.delta for e in seen) == text_part_text(truth)
        assert seen[-1].status is StreamStatus.DONE and seen[-1].usage == Usage(10, 20, 5)
        assert seen[-1].offset == len(text_part_text(truth))
    body = await engine.body(stream_id)
    assert as_expected(body.all_parts) == truth
    assert body.text == text_part_text(truth) and body.usage == Usage(10, 20, 5)
    assert body.end == driven[-1].end == observed[-1].end

    # Compaction folds the chunks into one per part, and every reader reads the same answer after it.
    for _ in range(200):
        if await chunk_count(engine, stream_id) == len(truth):
            break
        await asyncio.sleep(0.01)
    assert await chunk_count(engine, stream_id) == len(truth)
    assert as_expected((await engine.body(stream_id)).all_parts) == truth
    assert replay(await collect(engine.observe(stream_id))) == truth


async def chunk_count(engine: StreamEngine, stream_id: str) -> int:
    async with engine.db.session() as session:
        rows = await session.execute(text("SELECT count(*) FROM chunks WHERE stream_id = :s"), {"s": stream_id})
        return int(rows.scalar_one())


async def test_a_text_only_answer_stores_what_it_stored_before_parts(engine: StreamEngine) -> None:
    stream_id = await engine.create_stream()
    words = [f"word{i}. " for i in range(30)]
    driven = await collect(engine.drive(stream_id, lambda: source_of(words)))
    assert all(e.parts is None and e.position is None for e in driven)
    body = await engine.body(stream_id)
    assert body.parts is None and body.text == "".join(words) and body.usage is None
    async with engine.db.session() as session:
        rows = (
            await session.execute(text("SELECT part, kind, tool_name, tool_call_id, is_error, part_end FROM chunks"))
        ).all()
    assert rows and all(row == (None,) * 6 for row in rows)


@pytest.mark.parametrize("seed", range(6))
async def test_an_observer_resumes_from_every_cursor_exactly(engine: StreamEngine, seed: int) -> None:
    rng = random.Random(seed)
    events = script(rng)
    truth = expected_parts(events)
    stream_id = await engine.create_stream()
    driven = await collect(engine.drive(stream_id, lambda: source_of(events, rng)))
    assert replay(driven) == truth, f"seed {seed}"
    # From every event's cursor, on the finished (and compacted) answer: exactly the rest of every part.
    for cut in range(len(driven)):
        before = replay(driven[: cut + 1])
        rest = await collect(engine.observe(stream_id, from_position=driven[cut].end))
        assert replay(rest, before) == truth, f"seed {seed}, resumed after event {cut}"


@pytest.mark.parametrize("seed", range(4))
async def test_observers_joining_mid_part_while_it_streams_see_exactly_the_rest(
    engine: StreamEngine, seed: int
) -> None:
    rng = random.Random(100 + seed)
    events = script(rng)
    truth = expected_parts(events)
    stream_id = await engine.create_stream()
    driven: list[StreamEvent] = []
    joined: list[tuple[Expected, asyncio.Task[list[StreamEvent]]]] = []

    async def drive() -> None:
        async for event in engine.drive(stream_id, lambda: source_of(events, rng)):
            driven.append(event)
            if rng.random() < 0.4:  # a reload that resumes from the cursor the page holds
                joined.append(
                    (replay(driven), asyncio.create_task(collect(engine.observe(stream_id, from_position=event.end))))
                )

    await drive()
    assert joined, f"seed {seed}: nobody joined"
    for before, task in joined:
        assert replay(await task, before) == truth, f"seed {seed}"


async def test_a_fresh_observer_from_offset_zero_and_from_a_text_offset(engine: StreamEngine) -> None:
    events = script(random.Random(7))
    truth = expected_parts(events)
    whole_text = text_part_text(truth)
    stream_id = await engine.create_stream()
    await collect(engine.drive(stream_id, lambda: source_of(events)))
    assert replay(await collect(engine.observe(stream_id))) == truth
    for offset in (1, 5, len(whole_text) - 1, len(whole_text)):
        later = await collect(engine.observe(stream_id, offset))
        assert "".join(e.delta for e in later) == whole_text[offset:]
        assert later[-1].offset == len(whole_text)


async def test_a_source_that_yields_something_else_ends_in_error_naming_it(engine: StreamEngine) -> None:
    async def bad() -> AsyncIterator[object]:
        yield "fine "
        yield 42

    stream_id = await engine.create_stream()
    driven = await collect(engine.drive(stream_id, bad))  # type: ignore[arg-type]
    assert driven[-1].status is StreamStatus.ERROR
    assert driven[-1].error == "The answer failed: the generator yielded int, not text or a part."
    assert (await engine.body(stream_id)).text == "fine "


async def test_reasoning_keeps_a_slow_answer_alive_and_silence_before_the_first_delta_has_its_own_limit(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'timeouts.db'}"
    async with StreamEngine.from_urls(url, stream_timeout=0.3, first_token_timeout=2.0) as engine:

        async def thinker() -> AsyncIterator[PartEvent]:
            await asyncio.sleep(0.8)  # silent, longer than the stream timeout, within the first-token limit
            for _ in range(8):
                yield ReasoningDelta("hmm ")
                await asyncio.sleep(0.15)
            yield "Answer."

        stream_id = await engine.create_stream()
        driven = await collect(engine.drive(stream_id, thinker))
        assert driven[-1].status is StreamStatus.DONE, driven[-1]
        assert (await engine.body(stream_id)).text == "Answer."

        async def stalls() -> AsyncIterator[PartEvent]:
            yield ReasoningDelta("first")
            await asyncio.sleep(5)
            yield "never"

        stream_id = await engine.create_stream()
        driven = await collect(engine.drive(stream_id, stalls))
        assert driven[-1].status is StreamStatus.TIMEOUT


async def test_a_model_error_after_parts_keeps_them(engine: StreamEngine) -> None:
    async def failing() -> AsyncIterator[PartEvent]:
        yield ReasoningDelta("thinking")
        yield ToolCallDelta("c1", "clock", "{}")
        raise ModelError("The model service returned an error (HTTP 500).")

    stream_id = await engine.create_stream()
    driven = await collect(engine.drive(stream_id, failing))
    assert driven[-1].status is StreamStatus.ERROR
    body = await engine.body(stream_id)
    assert [(p.kind, p.text) for p in body.all_parts] == [(PartKind.REASONING, "thinking"), (PartKind.TOOL_CALL, "{}")]


def test_positions_from_events_are_ordered() -> None:
    assert START < Position(0, 1) < Position(3, 0)


class DroppingHub(Hub):
    """A hub that loses a share of the chunks it is asked to publish, as a broadcast may: observers must notice the
    gap and read the database."""

    def __init__(self, rng: random.Random, share: float) -> None:
        super().__init__("memory://")
        self.rng, self.share, self.dropped = rng, share, 0

    async def publish(self, message: HubMessage) -> bool:
        if isinstance(message, Chunk) and self.rng.random() < self.share:
            self.dropped += 1
            return True
        return await super().publish(message)


@pytest.mark.parametrize("seed", range(3))
async def test_observers_end_with_exactly_the_parts_when_the_hub_drops_publishes(tmp_path: Path, seed: int) -> None:
    rng = random.Random(500 + seed)
    hub = DroppingHub(rng, 0.3)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'drops.db'}")
    await database.create_tables()
    engine = StreamEngine(database, hub, flush_ms=20, flush_chars=40, observer_poll_interval=0.2)
    async with engine:
        events = script(rng)
        truth = expected_parts(events)
        stream_id = await engine.create_stream()
        early = asyncio.create_task(collect(engine.observe(stream_id)))
        driven: list[StreamEvent] = []
        late: list[tuple[Expected, asyncio.Task[list[StreamEvent]]]] = []
        async for event in engine.drive(stream_id, lambda: source_of(events, rng)):
            driven.append(event)
            if rng.random() < 0.3:
                task = asyncio.create_task(collect(engine.observe(stream_id, from_position=event.end)))
                late.append((replay(driven), task))
        assert replay(await early) == truth, f"seed {seed}"
        for before, task in late:
            assert replay(await task, before) == truth, f"seed {seed}"
    await database.close()
    assert hub.dropped > 0, f"seed {seed}: nothing was dropped"
