"""Compaction of a finished stream's chunks into one row: the same body, offsets and events for every reader,
including readers racing the compaction itself (many rounds, random timing, the seed printed on failure)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from persistream.db import compaction, streams
from persistream.db.database import Database
from persistream.db.status import FINAL_STATUSES
from persistream.db.streams import StoredChunk
from persistream.engine import StreamEngine, sweeper
from persistream.engine.ids import new_id


def chunk_rows(db_path: Path, stream_id: str) -> list[tuple[int, str, int]]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT seq, text, end_offset FROM chunks WHERE stream_id = ? ORDER BY seq", (stream_id,))
        return [(int(seq), str(text), int(end)) for seq, text, end in rows]


def sentences(rng: random.Random, count: int) -> list[str]:
    """Tokens with a sentence end every few (each cuts a chunk), astral characters included."""
    words = ["alpha", "beta", "gamma", "é", "🙂", "日本", "x"]
    return [" " + rng.choice(words) + rng.choice(["", "", ".", "!\n"]) for _ in range(count)]


async def source(tokens: list[str], delay: float = 0.0) -> AsyncIterator[str]:
    for token in tokens:
        if delay:
            await asyncio.sleep(delay)
        yield token


async def until_compacted(db: Database, stream_id: str) -> None:
    for _ in range(200):
        row = await streams.get_stream(db, stream_id)
        if row is not None and row.compacted:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the finished stream was never compacted")


async def test_a_long_answer_compacts_to_one_row_with_the_same_body(tmp_path: Path) -> None:
    db_path = tmp_path / "c.db"
    tokens = sentences(random.Random(7), 3000)
    text = "".join(tokens)
    async with StreamEngine.from_urls(f"sqlite+aiosqlite:///{db_path}") as engine:
        stream_id = await engine.create_stream()
        events = [e async for e in engine.drive(stream_id, lambda: source(tokens))]
        assert events[-1].status.value == "DONE" and events[-1].offset == len(text)
        await until_compacted(engine.db, stream_id)
        row = await streams.get_stream(engine.db, stream_id)
        assert row is not None and row.last_seq > 100, "sentence ends should have cut many chunks"
        assert chunk_rows(db_path, stream_id) == [(row.last_seq, text, len(text))]
        assert (await engine.body(stream_id)).text == text
        # Observers from any offset, after compaction: exactly the text after it, one event.
        for offset in (0, 1, len(text) // 3, len(text) - 1, len(text)):
            [event] = [e async for e in engine.observe(stream_id, offset)]
            assert (event.delta, event.offset, event.status.value) == (text[offset:], len(text), "DONE")
        # A reader that last stood at chunk k still gets exactly the text after its offset.
        snapshot = await streams.read_after_seq(engine.db, stream_id, 5)
        assert snapshot is not None and [(c.seq, c.end_offset) for c in snapshot.chunks] == [(row.last_seq, len(text))]
        # Compacting again does nothing; the history read is one row.
        assert not await compaction.compact_stream(engine.db, stream_id)
        bodies = await streams.read_texts(engine.db, [stream_id])
        assert [c.text for c in bodies[stream_id].chunks] == [text]


async def test_observers_and_bodies_racing_compaction_see_exact_text(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    db_path = tmp_path / "race.db"
    async with StreamEngine.from_urls(f"sqlite+aiosqlite:///{db_path}", flush_ms=20) as engine:
        for round_no in range(12):
            tokens = sentences(rng, rng.randint(50, 400))
            text = "".join(tokens)
            stream_id = await engine.create_stream()

            async def observer(offset: int, wait: float, sid: str = stream_id) -> tuple[int, str, int]:
                await asyncio.sleep(wait)
                delta, end = "", offset
                async for event in engine.observe(sid, offset):
                    delta += event.delta
                    end = event.offset
                return offset, delta, end

            async def body_reader(wait: float, sid: str = stream_id) -> str:
                """`streamBody`'s read, again and again until the answer is final (so also while it compacts)."""
                await asyncio.sleep(wait)
                for _ in range(100_000):
                    body = await engine.body(sid)
                    if body.status.value in FINAL_STATUSES:
                        return body.text
                    await asyncio.sleep(rng.uniform(0, 0.002))
                raise AssertionError("the answer never ended")

            length = len(text)
            # Observers joining before, during and right at the end (when the compaction runs).
            tasks = [
                asyncio.create_task(observer(rng.choice([0, rng.randint(0, length)]), rng.uniform(0, 0.06)))
                for _ in range(8)
            ]
            bodies = [asyncio.create_task(body_reader(rng.uniform(0, 0.06))) for _ in range(3)]
            delay = rng.choice([0.0, 0.0001])
            async for _ in engine.drive(stream_id, lambda t=tokens, d=delay: source(t, d)):
                pass
            results = await asyncio.gather(*tasks)
            texts = await asyncio.gather(*bodies)
            context = f"seed {seed}, round {round_no}"
            for offset, delta, end in results:
                assert (delta, end) == (text[offset:], length), f"{context}: observer from {offset}"
            assert texts == [text] * 3, context
            await until_compacted(engine.db, stream_id)
            assert [t for _, t, _ in chunk_rows(db_path, stream_id)] == [text], context


async def test_readers_racing_compaction_read_old_chunks_or_the_new_one(tmp_path: Path) -> None:
    """Direct: a final stream of many chunks, compacted while readers at random positions read it in a loop."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'direct.db'}")
    await db.create_tables()
    try:
        for round_no in range(15):
            pieces = [f"piece {i} of round {round_no}. " for i in range(rng.randint(2, 300))]
            text = "".join(pieces)
            stream_id, generation_id = new_id(), new_id()
            await streams.create_stream(db, stream_id)
            assert await streams.claim_stream(db, stream_id, generation_id)
            chunks, end = [], 0
            for seq, piece in enumerate(pieces, 1):
                end += len(piece)
                chunks.append(StoredChunk(seq, piece, end))
            assert await streams.append_chunks(db, stream_id, generation_id, chunks)
            assert await streams.finish_generation(db, stream_id, generation_id, "DONE", None)

            async def read_loop(
                sid: str = stream_id, pieces: list[str] = pieces, text: str = text, round_no: int = round_no
            ) -> None:
                for _ in range(20):
                    k = rng.randint(0, len(pieces))
                    offset = sum(len(p) for p in pieces[:k])
                    by_seq = await streams.read_after_seq(db, sid, k)
                    by_offset = await streams.read_after_offset(db, sid, offset)
                    assert by_seq is not None and by_offset is not None
                    # What an observer at (last_seq k, offset) appends, and what a snapshot from `offset` shows.
                    got = "".join(c.text[max(0, len(c.text) - (c.end_offset - offset)) :] for c in by_seq.chunks)
                    assert got == text[offset:], f"seed {seed}, round {round_no}: after seq {k}"
                    first = by_offset.chunks[0] if by_offset.chunks else None
                    start = first.end_offset - len(first.text) if first else offset
                    shown = "".join(c.text for c in by_offset.chunks)[max(0, offset - start) :]
                    assert shown == text[offset:], f"seed {seed}, round {round_no}: from offset {offset}"
                    await asyncio.sleep(rng.uniform(0, 0.001))

            async def compact_later(sid: str = stream_id) -> bool:
                await asyncio.sleep(rng.uniform(0, 0.01))
                return await compaction.compact_stream(db, sid)

            *_, first, second = await asyncio.gather(*(read_loop() for _ in range(4)), compact_later(), compact_later())
            # Exactly one of two racing compactions replaces the chunks; the other finds nothing to do.
            assert sorted([first, second]) == ([False, True] if len(pieces) > 1 else [False, False]), seed
            row = await streams.get_stream(db, stream_id)
            assert row is not None and row.compacted
            final = await streams.read_texts(db, [stream_id])
            assert [c.text for c in final[stream_id].chunks] == ([text] if len(pieces) > 1 else pieces)
    finally:
        await db.close()


async def test_the_sweeper_compacts_finished_streams_left_behind(tmp_path: Path) -> None:
    """A process that stopped before compacting (here: compaction off) leaves streams the sweeper compacts later;
    short and live streams are only marked or left alone."""
    db_path = tmp_path / "sweep.db"
    url = f"sqlite+aiosqlite:///{db_path}"
    async with StreamEngine.from_urls(url, compact_finished=False, sweep=False) as engine:
        long_tokens = sentences(random.Random(3), 300)
        long_id = await engine.create_stream()
        short_id = await engine.create_stream()
        pending_id = await engine.create_stream()
        async for _ in engine.drive(long_id, lambda: source(long_tokens)):
            pass
        async for _ in engine.drive(short_id, lambda: source(["One sentence only"])):
            pass
        assert len(chunk_rows(db_path, long_id)) > 10
        assert await sweeper.compact_finished(engine.db, limit=10) == 1
        text = "".join(long_tokens)
        row = await streams.get_stream(engine.db, long_id)
        assert row is not None and chunk_rows(db_path, long_id) == [(row.last_seq, text, len(text))]
        marks = [await streams.get_stream(engine.db, sid) for sid in (long_id, short_id, pending_id)]
        assert [r.compacted if r else None for r in marks] == [True, True, False]
        assert (await engine.body(short_id)).text == "One sentence only"
        assert await sweeper.compact_finished(engine.db, limit=10) == 0
