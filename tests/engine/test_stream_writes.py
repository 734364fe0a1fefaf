"""Conditional writes of the streams module (`persistream.db.streams`), on a temporary SQLite file."""

from __future__ import annotations

from pathlib import Path

from persistream.db import streams
from persistream.db.database import Database
from persistream.db.streams import StoredChunk
from persistream.engine.ids import new_id


async def test_giving_up_removes_a_write_that_landed_after_its_answer_was_lost(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    await db.create_tables()
    try:
        stream_id, generation_id = new_id(), new_id()
        await streams.create_stream(db, stream_id)
        assert await streams.claim_stream(db, stream_id, generation_id)
        assert await streams.append_chunks(db, stream_id, generation_id, [StoredChunk(1, "Kept. ", 6)])
        # The generation saw this write fail (the connection broke) and gave up; the database had committed it.
        assert await streams.append_chunks(db, stream_id, generation_id, [StoredChunk(2, "Ghost. ", 13)])

        assert await streams.finish_generation(
            db, stream_id, generation_id, "ERROR", "unavailable", stored_through=(1, 6)
        )
        snapshot = await streams.read_after_seq(db, stream_id, 0)
        assert snapshot is not None
        assert (snapshot.stream.status, snapshot.stream.length, snapshot.stream.last_seq) == ("ERROR", 6, 1)
        assert [c.text for c in snapshot.chunks] == ["Kept. "]
        # A final status never changes again, whoever asks.
        assert not await streams.finish_generation(db, stream_id, generation_id, "DONE", None)
    finally:
        await db.close()
