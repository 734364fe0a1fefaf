"""One writer path per process on SQLite: this process's writers queue on one lock instead of meeting inside SQLite.
With SQLite's busy handler switched off (busy_timeout 0), any two writers that collided would fail at once with
"database is locked"; 50 concurrent writing tasks of every kind all succeed, so none ever had to wait in SQLite."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession

from persistream.db import streams, threads
from persistream.db.database import Database
from persistream.db.models import SecretRow
from persistream.db.streams import StoredChunk
from persistream.engine.ids import new_id


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
        stored = await threads.add_message(
            db, thread=None, thread_id=new_id(), message_id=new_id(), stream_id=new_id(), prompt="p", title="t"
        )
        assert stored is not None
        stream_id = stored[1].response_stream_id
        generation = new_id()
        assert await streams.claim_stream(db, stream_id, generation)
        for seq in range(1, 4):
            assert await streams.append_chunks(db, stream_id, generation, [StoredChunk(seq, "ab", seq * 2)])
        assert await streams.finish_generation(db, stream_id, generation, "DONE", None)
        return stream_id

    try:
        stream_ids = await asyncio.gather(*(one_answer() for _ in range(50)))
        bodies = await streams.read_texts(db, stream_ids)
        assert all("".join(c.text for c in bodies[s].chunks) == "ababab" for s in stream_ids), f"seed {seed}"
        assert {bodies[s].stream.status for s in stream_ids} == {"DONE"}
    finally:
        await db.close()


async def test_a_first_write_never_holds_the_lock_while_waiting_for_a_connection(tmp_path: Path) -> None:
    """Units of work that read and then write hold their pool connection while they queue for the write lock. A
    unit whose first statement is a write must therefore get its connection before the lock: holding the lock while
    the pool is full of such units, it would wait for them while they wait for it, until the pool timed out (30 s)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'order.db'}")
    await db.create_tables()
    pool_bound = 5 + 10  # SQLAlchemy's queue pool for a SQLite file: 5 kept, 10 more on demand
    write = delete(SecretRow).where(SecretRow.name == "none")  # a real write statement that changes nothing
    readers = [db.session() for _ in range(pool_bound)]
    writer = db.session()
    for session in readers:
        await session.execute(select(1))  # each now holds one of the pool's connections
    assert db.pool_connections() == (pool_bound, 0)
    first_write = asyncio.create_task(writer.execute(write))  # the lock is free; the pool is not
    try:
        await asyncio.sleep(0.1)

        async def read_then_write(session: AsyncSession) -> None:
            await session.execute(write)
            await session.commit()
            await session.close()  # gives the connection back: the first writer can have it

        async with asyncio.timeout(10):
            await asyncio.gather(first_write, *(read_then_write(s) for s in readers))
            await writer.commit()
    finally:
        first_write.cancel()  # still waiting only if the test failed
        await asyncio.gather(first_write, return_exceptions=True)
        await writer.close()
        for session in readers:
            await session.close()
        await db.close()
