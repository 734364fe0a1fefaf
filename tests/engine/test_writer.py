"""A generation's writes, on a temporary SQLite file: each way a write does not happen is its own exception."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from persistream.db import streams
from persistream.db.database import Database
from persistream.db.models import utcnow
from persistream.db.streams import StoredChunk
from persistream.engine.events import StreamStatus
from persistream.engine.ids import new_id
from persistream.engine.writer import (
    DB_REFUSED,
    DB_UNAVAILABLE,
    StorageError,
    StorageRefused,
    StorageUnavailable,
    StreamTakenAway,
    StreamWriter,
)


async def test_writes_of_the_owner_land_and_a_stream_taken_away_is_told(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await db.create_tables()
    try:
        stream_id, generation_id = new_id(), new_id()
        await streams.create_stream(db, stream_id)
        writer = StreamWriter(db, stream_id, generation_id, outage_limit=1.0)
        with pytest.raises(StreamTakenAway):  # not claimed by this generation
            await writer.append([StoredChunk(1, "Hi. ", 4)])
        assert await streams.claim_stream(db, stream_id, generation_id)
        await writer.append([StoredChunk(1, "Hi. ", 4), StoredChunk(2, "There.", 10)])
        # An earlier try that stored these very chunks before its answer was lost: landed, not taken away.
        await writer.append([StoredChunk(2, "There.", 10)])
        assert await writer.stored_final() is None

        assert await streams.force_final(db, stream_id, "CANCELLED", None, stale_before=utcnow())
        with pytest.raises(StreamTakenAway):
            await writer.append([StoredChunk(3, "More.", 15)])
        with pytest.raises(StreamTakenAway):
            await writer.finish(StreamStatus.DONE, None, None)
        assert await writer.stored_final() == (StreamStatus.CANCELLED, None)
    finally:
        await db.close()


async def test_a_refused_statement_and_an_outage_are_storage_errors_with_their_own_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    await db.create_tables()
    try:
        stream_id, generation_id = new_id(), new_id()
        await streams.create_stream(db, stream_id)
        assert await streams.claim_stream(db, stream_id, generation_id)
        writer = StreamWriter(db, stream_id, generation_id, outage_limit=0.3)
        with pytest.raises(StorageRefused) as refused:  # a lone surrogate has no UTF-8: no retry can store it
            await writer.append([StoredChunk(1, "\ud800", 1)])
        assert isinstance(refused.value, StorageError) and refused.value.user_message == DB_REFUSED

        def away(*_args: Any) -> None:
            raise ConnectionRefusedError(111, "Connection refused")

        event.listen(db.engine.sync_engine, "before_cursor_execute", away)
        with caplog.at_level(logging.INFO, logger="persistream.generation"), pytest.raises(StorageUnavailable) as gone:
            await writer.finish(StreamStatus.DONE, None, None)
        assert gone.value.user_message == DB_UNAVAILABLE
        lines = [r.getMessage() for r in caplog.records]
        assert sum("database write failed" in line for line in lines) == 1, lines  # said once, not once a try
        assert sum("giving up on the database after" in line for line in lines) == 1, lines
    finally:
        await db.close()
