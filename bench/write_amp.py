"""Write amplification and the read of a long finished answer, before and after compaction.

    .venv/bin/python -m bench.write_amp [--quick]

1. A typical answer (Markdown prose, a list, a code block; about 1,000 tokens) through the engine's default
   chunker thresholds (`flush_chars=1000`, `flush_ms=500`) at 50 tokens/s on a virtual clock: chunk rows and
   bytes written per 1,000 tokens while it streams, rows left once it is compacted, and what compaction writes.
   The rows are then stored through the real engine (SQLite) and counted in the database before and after.
2. A finished 200,000-character answer stored the way the chunker cuts it (a chunk per sentence): rows read and
   median time of `streamBody`'s read and of the history read, before and after `compact_stream`, on SQLite and
   PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from bench.chunking import LONG_ANSWER
from bench.datasets import database
from bench.report import Row, emit
from persistream.core import StreamEngine
from persistream.db import compaction, streams
from persistream.db.database import Database
from persistream.db.streams import StoredChunk
from persistream.engine.chunker import Chunker
from persistream.engine.ids import new_id

TOKENS = re.compile(r"\s*\S+|\s+")
FLUSH_CHARS, FLUSH_SECONDS = 1000, 0.5  # the engine's defaults
LONG_CHARS = 200_000


def typical_answer() -> list[str]:
    tokens = TOKENS.findall(LONG_ANSWER)
    return (tokens * (1000 // len(tokens) + 1))[:1000]


def cut_on_virtual_clock(tokens: list[str], per_second: float) -> list[str]:
    """The chunks the engine would store for these tokens arriving at `per_second` (its flush timer included)."""
    chunker = Chunker(FLUSH_CHARS, FLUSH_SECONDS)
    chunks: list[str] = []
    for i, token in enumerate(tokens):
        now = i / per_second
        due = chunker.due_at()
        if due is not None and now >= due:
            chunks.append(chunker.take())
        chunks += chunker.add(token, now)
    chunks.append(chunker.take())
    return [c for c in chunks if c]


async def stored_rows(chunks: list[str], tmp: Path) -> tuple[int, int]:
    """Drive the chunks through the real engine as tokens; chunk rows in the database before and after compaction."""
    async with StreamEngine.from_urls(f"sqlite+aiosqlite:///{tmp / 'amp.db'}", compact_finished=False) as engine:
        stream_id = await engine.create_stream()

        async def source() -> AsyncIterator[str]:
            for chunk in chunks:  # each chunk ends a sentence or fills the buffer: the chunker cuts it again
                yield chunk
                await asyncio.sleep(0)

        async for _ in engine.drive(stream_id, source):
            pass
        before = await count_chunks(engine.db, stream_id)
        await compaction.compact_stream(engine.db, stream_id)
        return before, await count_chunks(engine.db, stream_id)


async def count_chunks(db: Database, stream_id: str) -> int:
    snapshot = await streams.read_after_seq(db, stream_id, 0)
    assert snapshot is not None
    return len(snapshot.chunks)


def write_rows(tmp: Path) -> list[Row]:
    tokens = typical_answer()
    chunks = cut_on_virtual_clock(tokens, 50)
    assert "".join(chunks) == "".join(tokens)
    per_k = 1000 / len(tokens)
    text_bytes = sum(len(c.encode()) for c in chunks)
    before, after = asyncio.run(stored_rows(chunks, tmp))
    return [
        Row(
            "write amplification: chunk rows per 1,000 tokens while streaming (typical answer, 50 tokens/s)",
            f"{len(chunks) * per_k:.0f} rows, {text_bytes * per_k / 1024:.1f} KiB of text "
            f"(the engine, storing the same text with no pauses: {before} rows)",
            f"1 row per token would be {len(tokens)} rows",
        ),
        Row(
            "write amplification: rows left after compaction, and what compaction writes",
            f"{after} row; compaction rewrites the text once more ({text_bytes / 1024:.1f} KiB) and deletes "
            f"{before - after} rows",
            f"{before} rows without compaction",
        ),
    ]


def long_chunks() -> list[StoredChunk]:
    sentence = "A sentence of a long finished answer, about a hundred characters long, ending like this one does. "
    chunks, end, seq = [], 0, 0
    while end < LONG_CHARS:
        piece = sentence[: min(len(sentence), LONG_CHARS - end)]
        seq, end = seq + 1, end + len(piece)
        chunks.append(StoredChunk(seq, piece, end))
    return chunks


async def median_ms(read: Callable[[], Awaitable[object]], rounds: int) -> float:
    await read()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def long_read(url: str, rounds: int) -> dict[str, tuple[int, float, float]]:
    """{'before'|'after': (rows read, body read ms, history read ms)}"""
    db = Database(url)
    try:
        stream_id, generation_id = new_id(), new_id()
        await streams.create_stream(db, stream_id)
        assert await streams.claim_stream(db, stream_id, generation_id)
        chunks = long_chunks()
        for start in range(0, len(chunks), 500):
            assert await streams.append_chunks(db, stream_id, generation_id, chunks[start : start + 500])
        assert await streams.finish_generation(db, stream_id, generation_id, "DONE", None)
        text = "".join(c.text for c in chunks)
        results: dict[str, tuple[int, float, float]] = {}
        for label in ("before", "after"):
            if label == "after":
                assert await compaction.compact_stream(db, stream_id)
            snapshot = await streams.read_after_offset(db, stream_id, 0)
            assert snapshot is not None and "".join(c.text for c in snapshot.chunks) == text
            body = await median_ms(lambda: streams.read_after_offset(db, stream_id, 0), rounds)
            history = await median_ms(lambda: streams.read_texts(db, [stream_id]), rounds)
            results[label] = (len(snapshot.chunks), body, history)
        return results
    finally:
        await db.close()


def read_rows(tmp: Path, rounds: int) -> list[Row]:
    rows = []
    for backend in ("sqlite", "postgresql"):
        with database(backend, tmp, "long") as url:
            result = asyncio.run(long_read(url, rounds))
        (rows_before, body_before, history_before), (rows_after, body_after, history_after) = (
            result["before"],
            result["after"],
        )
        rows.append(
            Row(
                f"reading a finished {LONG_CHARS:,}-character answer, {backend} (streamBody's read; history read)",
                f"compacted: {rows_after} row, {body_after:.2f} ms; {history_after:.2f} ms",
                f"before compaction: {rows_before:,} rows, {body_before:.2f} ms; {history_before:.2f} ms",
                "not thousands of rows",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timed reads")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = write_rows(Path(tmp)) + read_rows(Path(tmp), 5 if options.quick else 30)
    emit(rows)


if __name__ == "__main__":
    main()
