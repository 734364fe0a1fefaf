"""What parts cost: a reasoning-heavy answer beside a text-only one of the same length, through the engine.

    .venv/bin/python -m bench.parts_cost [--quick]

Both answers go through a real engine on a fresh SQLite file (an in-process source, named as such: this part
measures the engine and the store, not the model's HTTP path, which `bench.real_path` measures). The text-only
answer is N tokens of text; the reasoning-heavy one is N tokens of reasoning, one tool call with its result, then
the same N tokens of text. Figures: tokens/s to the driver (from a source that never waits), chunk rows and bytes
stored while streaming, and rows once compacted. The baseline column is the text-only answer in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from sqlalchemy import text

from bench.report import Row, emit
from persistream.db import compaction
from persistream.engine import StreamEngine
from persistream.parts import PartEvent, ReasoningDelta, ToolCallDelta, ToolResult, Usage

TOKEN = "word "
SENTENCE_EVERY = 12  # a sentence end now and then, as prose has: the chunker cuts there


def text_tokens(count: int) -> list[str]:
    return [TOKEN if (i + 1) % SENTENCE_EVERY else "end. " for i in range(count)]


def text_only(count: int) -> list[PartEvent]:
    return [*text_tokens(count), Usage(100, count, None)]


def reasoning_heavy(count: int) -> list[PartEvent]:
    reasoning: list[PartEvent] = [ReasoningDelta(t) for t in text_tokens(count)]
    call: list[PartEvent] = [ToolCallDelta("call_1", "clock", piece) for piece in ('{"zone"', ': "UTC"}')]
    result: list[PartEvent] = [ToolResult("call_1", "clock", "2026-12-07T12:00:00Z")]
    return [*reasoning, *call, *result, *text_tokens(count), Usage(100, 2 * count, count)]


async def measure(events: list[PartEvent], path: Path) -> tuple[float, int, int, int]:
    """Tokens/s to the driver, chunk rows and bytes stored while streaming, rows after compaction."""
    async with StreamEngine.from_urls(f"sqlite+aiosqlite:///{path}", compact_finished=False) as engine:
        stream_id = await engine.create_stream()

        async def source() -> AsyncIterator[PartEvent]:
            for event in events:
                yield event

        started = time.perf_counter()
        async for _ in engine.drive(stream_id, source):
            pass
        elapsed = time.perf_counter() - started
        rows, size = await stored(engine, stream_id)
        await compaction.compact_stream(engine.db, stream_id)
        compacted, _ = await stored(engine, stream_id)
    tokens = sum(1 for e in events if not isinstance(e, Usage))
    return tokens / elapsed, rows, size, compacted


async def stored(engine: StreamEngine, stream_id: str) -> tuple[int, int]:
    """Chunk rows of the stream, and their bytes as SQLite stores them (text and every column, record headers out)."""
    query = text(
        "SELECT count(*), coalesce(sum(length(CAST(text AS BLOB)) + 8 + 8 + coalesce(length(kind), 0) "
        "+ coalesce(length(tool_name), 0) + coalesce(length(tool_call_id), 0) "
        "+ (part IS NOT NULL) * 8 + (part_end IS NOT NULL) * 8 + (is_error IS NOT NULL)), 0) "
        "FROM chunks WHERE stream_id = :s"
    )
    async with engine.db.session() as session:
        count, size = (await session.execute(query, {"s": stream_id})).one()
    return int(count), int(size)


def run(count: int, rounds: int) -> list[Row]:
    def best(make: Callable[[int], list[PartEvent]]) -> tuple[float, int, int, int]:
        results = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(rounds):
                results.append(asyncio.run(measure(make(count), Path(tmp) / f"{make.__name__}-{i}.db")))
        fastest = max(r[0] for r in results)
        return fastest, *results[-1][1:]

    plain = best(text_only)
    heavy = best(reasoning_heavy)
    return [
        Row(
            f"parts: tokens/s to the driver, in-process source ({count} text tokens; reasoning-heavy: {count} "
            "reasoning tokens, a tool call and its result, then the same text)",
            f"reasoning-heavy {heavy[0]:,.0f} tokens/s ({heavy[0] / plain[0]:.2f}x)",
            f"text-only {plain[0]:,.0f} tokens/s",
        ),
        Row(
            "parts: chunk rows and bytes stored while streaming",
            f"reasoning-heavy {heavy[1]} rows, {heavy[2] / 1024:.1f} KiB",
            f"text-only {plain[1]} rows, {plain[2] / 1024:.1f} KiB",
        ),
        Row(
            "parts: chunk rows once compacted (one per part)",
            f"reasoning-heavy {heavy[3]} rows",
            f"text-only {plain[3]} row(s)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    options = parser.parse_args()
    count, rounds = (2_000, 2) if options.quick else (20_000, 3)
    emit(run(count, rounds))


if __name__ == "__main__":
    main()
