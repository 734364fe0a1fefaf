"""One writer path per process on SQLite: this process's writers queue on one lock instead of meeting inside SQLite.
With SQLite's busy handler switched off (busy_timeout 0), any two writers that collided would fail at once with
"database is locked"; 50 concurrent writing tasks of every kind all succeed, so none ever had to wait in SQLite."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from sqlalchemy import event

from persistream.core.ids import new_id
from persistream.db import queries
from persistream.db.database import Database
from persistream.db.queries import StoredChunk


async def test_concurrent_writers_never_meet_inside_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")

    def no_busy_wait(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    event.listen(db.engine.sync_engine, "connect", no_busy_wait)  # after the Database's own tuning
    await db.create_tables()
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)

    async def one_answer() -> str:
        await asyncio.sleep(rng.random() * 0.005)
        stored = await queries.add_message(
            db, thread=None, thread_id=new_id(), message_id=new_id(), stream_id=new_id(), prompt="p", title="t"
        )
        assert stored is not None
        stream_id = stored[1].response_stream_id
        generation = new_id()
        assert await queries.claim_stream(db, stream_id, generation)
        for seq in range(1, 4):
            assert await queries.append_chunks(db, stream_id, generation, [StoredChunk(seq, "ab", seq * 2)])
        assert await queries.finish_generation(db, stream_id, generation, "DONE", None)
        return stream_id

    try:
        stream_ids = await asyncio.gather(*(one_answer() for _ in range(50)))
        bodies = await queries.read_texts(db, stream_ids)
        assert all("".join(c.text for c in bodies[s].chunks) == "ababab" for s in stream_ids), f"seed {seed}"
        assert {bodies[s].stream.status for s in stream_ids} == {"DONE"}
    finally:
        await db.close()
