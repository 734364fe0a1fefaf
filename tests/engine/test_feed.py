"""The observer guarantees under the shared feed, in one process: a real SQLite database and the real hub on the
in-process broadcast, behind a hub that drops, reorders and delays chunk publishes on purpose.

For every observer, joining at a random moment from a random offset: its text after its offset is the stored
text, offsets never go back, its last event carries the stored final status; caught-up observers receive the very
same event objects; the feed reads the database once per stream and step, not once per observer.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from persistream.core import StreamEngine, StreamEvent, StreamStatus
from persistream.db import streams
from persistream.db.database import Database
from persistream.engine.cursor import START
from persistream.engine.feed import Step
from persistream.engine.hub import Hub
from persistream.engine.log import LogReader
from persistream.engine.messages import Chunk, Final, HubMessage
from persistream.engine.observer import _Place
from persistream.parts import ReasoningDelta, Usage


class FaultyHub(Hub):
    """Drops some chunk publishes, holds others back and sends them after later ones (reordered)."""

    def __init__(self, rng: random.Random, drop: float, reorder: float) -> None:
        super().__init__("memory://")
        self.rng, self.drop, self.reorder = rng, drop, reorder
        self.dropped = self.reordered = 0
        self._held: list[HubMessage] = []

    async def publish(self, message: HubMessage) -> bool:
        if isinstance(message, Chunk):
            roll = self.rng.random()
            if roll < self.drop:
                self.dropped += 1
                return True
            if roll < self.drop + self.reorder:
                self.reordered += 1
                self._held.append(message)
                return True
        sent = await super().publish(message)
        for held in self._held:  # what was held back goes out after this one: out of order
            await super().publish(held)
        self._held.clear()
        return sent


def make_engine(tmp_path: Path, hub: Hub, name: str) -> StreamEngine:
    engine = StreamEngine(
        Database(f"sqlite+aiosqlite:///{tmp_path / name}"), hub, flush_ms=20, observer_poll_interval=0.3
    )
    engine._create_tables = True  # as from_urls does: the engine owns this database
    return engine


def check(events: list[StreamEvent], offset: int, text: str, status: StreamStatus) -> None:
    """The contract's observer rules for one subscriber that started at `offset`."""
    assert events, "no events"
    assert all(not e.status.is_final for e in events[:-1]), events
    got = "".join(e.delta for e in events)
    last = events[-1]
    assert last.status == status, (last, status)
    position = offset
    for event in events[:-1]:
        assert event.offset >= position, (event, position)
        position = event.offset
    if offset > len(text):  # stood past the stored text: the final event cuts back to the stored length
        assert got == "" and last.offset == len(text), events
    else:
        assert offset + len(got) == last.offset == len(text), (offset, len(got), last.offset, len(text))
        assert got == text[offset:]


async def paced(rng: random.Random, pieces: list[str]) -> AsyncIterator[str]:
    for piece in pieces:
        await asyncio.sleep(rng.uniform(0, 0.004))
        yield piece


def pieces_for(rng: random.Random) -> list[str]:
    words = ["ä", "beta", "😀", "gamma", "δ", "zeta"]
    return [rng.choice(words) + rng.choice(["", "", ".", "\n", " "]) for _ in range(rng.randint(20, 80))]


async def collect(engine: StreamEngine, stream_id: str, offset: int) -> list[StreamEvent]:
    return [event async for event in engine.observe(stream_id, offset)]


async def test_observers_at_random_moments_and_offsets_through_a_lossy_reordering_hub(tmp_path: Path) -> None:
    seed = int(os.environ.get("PERSISTREAM_TEST_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    hub = FaultyHub(rng, drop=0.15, reorder=0.15)
    async with make_engine(tmp_path, hub, "feed.db") as engine:
        for round_ in range(8):
            pieces = pieces_for(rng)
            stream_id = await engine.create_stream()
            observers: list[tuple[int, asyncio.Task[list[StreamEvent]]]] = []

            async def join_later(delay: float, offset: int, stream_id: str = stream_id) -> list[StreamEvent]:
                await asyncio.sleep(delay)
                return await collect(engine, stream_id, offset)

            for _ in range(rng.randint(5, 25)):
                offset = rng.choice([0, 0, rng.randint(0, 40), rng.randint(0, 400)])
                observers.append((offset, asyncio.create_task(join_later(rng.uniform(0, 0.3), offset))))
            driven = [e async for e in engine.drive(stream_id, lambda p=pieces: paced(rng, p))]  # type: ignore[misc]
            body = await engine.body(stream_id)
            assert body.text == "".join(pieces) and body.status == StreamStatus.DONE
            assert "".join(e.delta for e in driven) == body.text
            for offset, task in observers:
                events = await asyncio.wait_for(task, 10)
                try:
                    check(events, offset, body.text, body.status)
                except AssertionError:
                    print(f"seed {seed}, round {round_}, offset {offset}")
                    raise
    assert hub.dropped and hub.reordered, "the hub injected no faults"


async def test_caught_up_observers_share_event_objects_and_one_feed_reads_for_all(tmp_path: Path) -> None:
    async with make_engine(tmp_path, Hub("memory://"), "share.db") as engine:
        stream_id = await engine.create_stream()
        tasks = [asyncio.create_task(collect(engine, stream_id, 0)) for _ in range(50)]
        feed = None
        while feed is None or len(feed.subscriptions) < 50:
            await asyncio.sleep(0.01)
            feed = engine.feeds.feed(stream_id)
        await asyncio.sleep(1.0)  # idle: the observers wait; only the feed's slow check reads (every 0.3 s)
        idle_reads = feed.reads
        assert idle_reads <= 6, f"{idle_reads} reads in 1 s for 50 idle observers"

        async def source() -> AsyncIterator[str]:
            for i in range(20):
                await asyncio.sleep(0.01)
                yield f"line {i}\n"

        [e async for e in engine.drive(stream_id, source)]
        results = [await asyncio.wait_for(t, 10) for t in tasks]
        body = await engine.body(stream_id)
        for events in results:
            check(events, 0, body.text, StreamStatus.DONE)
        # After its own first event, every observer yielded exactly the same objects as the first observer.
        first = results[0][1:]
        assert len(first) >= 5
        for events in results[1:]:
            assert len(events[1:]) == len(first) and all(a is b for a, b in zip(events[1:], first, strict=True))
        # One feed read per published final (and slow checks), never one per observer.
        assert feed.reads - idle_reads < 10, feed.reads
        assert engine.feeds.feed(stream_id) is None, "the feed outlived its last observer"


async def test_a_slow_observer_overflows_and_catches_up_from_the_database(tmp_path: Path) -> None:
    async with make_engine(tmp_path, Hub("memory://"), "slow.db") as engine:
        engine.feeds.subscription_limit = 4
        stream_id = await engine.create_stream()
        slow_events: list[StreamEvent] = []
        joined = asyncio.Event()

        async def slow() -> None:
            async for event in engine.observe(stream_id, 0):
                slow_events.append(event)
                joined.set()
                await asyncio.sleep(0.15)  # a client that reads slowly

        slow_task = asyncio.create_task(slow())
        fast_task = asyncio.create_task(collect(engine, stream_id, 0))
        await joined.wait()

        async def source() -> AsyncIterator[str]:
            for i in range(40):
                await asyncio.sleep(0.005)
                yield f"l{i}\n"

        [e async for e in engine.drive(stream_id, source)]
        body = await engine.body(stream_id)
        fast = await asyncio.wait_for(fast_task, 5)  # done long before the slow one
        assert not slow_task.done()
        check(fast, 0, body.text, StreamStatus.DONE)
        await asyncio.wait_for(slow_task, 20)
        check(slow_events, 0, body.text, StreamStatus.DONE)
        assert len(slow_events) < len(fast), "the slow observer never fell behind"


@pytest.mark.parametrize("when", ["pending", "streaming"])
async def test_a_deleted_stream_ends_its_observers_cancelled(tmp_path: Path, when: str) -> None:
    async with make_engine(tmp_path, Hub("memory://"), "deleted.db") as engine:
        stream_id = await engine.create_stream()
        tasks = [asyncio.create_task(collect(engine, stream_id, 0)) for _ in range(5)]
        started = asyncio.Event()

        async def endless() -> AsyncIterator[str]:
            while True:
                await asyncio.sleep(0.01)
                started.set()
                yield "x.\n"

        if when == "streaming":
            driver = asyncio.create_task(collect_drive(engine, stream_id, endless))
            await started.wait()
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.05)
        await engine.delete([stream_id])
        for task in tasks:
            events = await asyncio.wait_for(task, 5)
            assert events[-1].status == StreamStatus.CANCELLED
            assert all(not e.status.is_final for e in events[:-1])
        if when == "streaming":
            await asyncio.wait_for(driver, 5)


async def collect_drive(engine: StreamEngine, stream_id: str, source: object) -> list[StreamEvent]:
    return [e async for e in engine.drive(stream_id, source)]  # type: ignore[arg-type]


class FinalAfterCompaction(Hub):
    """Loses every chunk publish after the first two and holds the final status back until the test releases it,
    so the feed's catch-up read finds the finished stream's chunks already compacted into one."""

    def __init__(self) -> None:
        super().__init__("memory://")
        self.held: list[HubMessage] = []

    async def publish(self, message: HubMessage) -> bool:
        if isinstance(message, Chunk) and message.seq > 2:
            return True
        if isinstance(message, Final):
            self.held.append(message)
            return True
        return await super().publish(message)

    async def release(self) -> None:
        for message in self.held:
            await super().publish(message)


async def test_a_feed_behind_a_compacted_stream_catches_up_by_offsets(tmp_path: Path) -> None:
    # Found by the Redis-restart test: a feed that had missed chunks read the compacted chunk (seq N, the whole
    # text), skipped it for not being seq last + 1, and ended its observers DONE with the tail missing.
    from sqlmodel import select

    from persistream.db.models import StreamRow

    hub = FinalAfterCompaction()
    async with make_engine(tmp_path, hub, "compacted.db") as engine:
        stream_id = await engine.create_stream()
        joined = asyncio.Event()
        events: list[StreamEvent] = []

        async def follow() -> None:
            async for event in engine.observe(stream_id, 0):
                events.append(event)
                joined.set()

        task = asyncio.create_task(follow())
        await joined.wait()

        async def source() -> AsyncIterator[str]:
            for i in range(30):
                await asyncio.sleep(0.01)
                yield f"line {i} 😀\n"

        [e async for e in engine.drive(stream_id, source)]
        for _ in range(200):  # the engine compacts right after the end
            async with engine.db.session() as session:
                row = (await session.execute(select(StreamRow).where(StreamRow.id == stream_id))).scalar_one()
            if row.compacted:
                break
            await asyncio.sleep(0.02)
        assert row.compacted and row.last_seq > 3, row
        await hub.release()
        await asyncio.wait_for(task, 10)
        body = await engine.body(stream_id)
        check(events, 0, body.text, StreamStatus.DONE)


@pytest.mark.parametrize("round_", range(4))
async def test_a_step_taken_whole_says_what_slicing_it_would(tmp_path: Path, round_: int) -> None:
    """`_Place.follows` (a caught-up observer takes the feed's step and its event as they are) against the slicing
    every observer did before it: the same events and the same place after every step of a random answer with
    text, reasoning and usage, through a hub that drops and reorders (so the feed reads the database too)."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    hub = FaultyHub(rng, drop=0.1, reorder=0.1)
    async with make_engine(tmp_path, hub, f"whole-{round_}.db") as engine:
        stream_id = await engine.create_stream()
        snapshot = await streams.read_after_offset(engine.db, stream_id, 0)
        assert snapshot is not None
        steps: list[Step] = []
        with engine.feeds.subscribe(stream_id) as subscription:
            steps, _ = await asyncio.wait_for(subscription.next(), 10)  # the feed's first read, before any chunk

            async def source() -> AsyncIterator[str | ReasoningDelta | Usage]:
                for i in range(rng.randint(5, 30)):
                    await asyncio.sleep(rng.uniform(0, 0.02))
                    yield ReasoningDelta(f"think {i} ") if rng.random() < 0.2 else f"w{i}" + rng.choice(["", "\n"])
                yield Usage(input_tokens=3, output_tokens=rng.randint(1, 9))

            [e async for e in engine.drive(stream_id, source)]
            while not steps or not steps[-1].event.status.is_final:
                taken, overflowed = await asyncio.wait_for(subscription.next(), 10)
                assert not overflowed, seed
                steps += taken

    whole = _Place(stream_id, LogReader(0, START), snapshot)
    sliced = _Place(stream_id, LogReader(0, START), snapshot)
    followed = 0
    for step in steps:
        reported = whole.status
        if whole.follows(step):
            followed += 1
            said = step.event if step.adds or whole.status != reported else None
        else:
            said = _sliced(whole, step, reported)
        assert said == _sliced(sliced, step, reported), (seed, step)
        reader, other = whole.reader, sliced.reader
        assert (reader.offset, reader.position, reader.last_seq) == (other.offset, other.position, other.last_seq)
        assert (whole.status, whole.usage) == (sliced.status, sliced.usage), seed
    assert followed >= len(steps) - 1, (followed, len(steps), seed)  # all but perhaps the first read's


def _sliced(place: _Place, step: Step, reported: StreamStatus) -> StreamEvent | None:
    taken = place.take_step(step)
    assert taken is not None, "a gap in the feed's own steps"
    delta, deltas = taken
    return place.event(delta, deltas, step.event) if deltas or place.status != reported else None
