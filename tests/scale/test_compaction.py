"""Two processes compacting the same finished streams at the same moment, on SQLite and PostgreSQL: neither
errors, each stream is compacted exactly once, and every body is unchanged."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from persistream.db import streams
from persistream.db.database import Database
from persistream.db.streams import StoredChunk
from persistream.engine.ids import new_id
from tests.scale.conftest import create_database, drop_database, pg_url
from tests.support.server import ROOT

pytestmark = pytest.mark.scale


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'compact.db'}"
        return
    name = create_database()
    yield pg_url(name)
    drop_database(name)


async def finished_streams(db: Database, rng: random.Random, count: int) -> dict[str, str]:
    """`count` DONE streams of many chunks each; their texts by id."""
    texts: dict[str, str] = {}
    for n in range(count):
        stream_id, generation_id = new_id(), new_id()
        await streams.create_stream(db, stream_id)
        assert await streams.claim_stream(db, stream_id, generation_id)
        chunks, end = [], 0
        for seq in range(1, rng.randint(3, 120)):  # two chunks at least: one is only marked
            piece = f"s{n}c{seq}{'🙂' * rng.randint(0, 2)}. "
            end += len(piece)
            chunks.append(StoredChunk(seq, piece, end))
        assert await streams.append_chunks(db, stream_id, generation_id, chunks)
        assert await streams.finish_generation(db, stream_id, generation_id, "DONE", None)
        texts[stream_id] = "".join(c.text for c in chunks)
    return texts


async def test_two_processes_compacting_the_same_streams(database_url: str) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    db = Database(database_url)
    await db.create_tables()
    try:
        for round_no in range(3):
            texts = await finished_streams(db, rng, 25)
            ids = list(texts)
            start = time.time() + 1.5  # both processes past their imports, then at once
            procs = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "tests.support.compactor",
                    database_url,
                    str(start),
                    *order,
                    cwd=ROOT,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
                for order in (ids, ids if round_no % 2 == 0 else ids[::-1])
            ]
            outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 60)
            context = f"seed {seed}, round {round_no}"
            for proc, (_, err) in zip(procs, outputs, strict=True):
                assert proc.returncode == 0 and not err.strip(), f"{context}: {err.decode()}"
            # Each stream compacted by exactly one of the two.
            assert sum(int(out) for out, _ in outputs) == len(ids), f"{context}: {outputs}"
            bodies = await streams.read_texts(db, ids)
            for stream_id, text in texts.items():
                snapshot = bodies[stream_id]
                assert snapshot.stream.compacted, context
                assert [(c.seq, c.text, c.end_offset) for c in snapshot.chunks] == [
                    (snapshot.stream.last_seq, text, len(text))
                ], context
    finally:
        await db.close()
