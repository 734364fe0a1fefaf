"""Two processes starting on one new SQLite file: while one migrates it (holding its write lock from BEGIN
IMMEDIATE), the other's first connection switches the file to WAL. SQLite answers that switch "locked" at once,
without waiting out the busy timeout (promoting its read lock could deadlock), so the connection retries instead of
failing the start."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import text

from persistream.db.database import Database


async def test_a_connection_waits_for_another_process_migrating_the_file(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE migrating (x)")
    other.execute("BEGIN IMMEDIATE")  # what a migrating process holds for its whole upgrade
    other.execute("INSERT INTO migrating VALUES (1)")
    released = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    released.start()
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        started = time.monotonic()
        async with db.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar()
        assert mode == "wal"
        assert time.monotonic() - started >= 0.4, "connected while the other process still held the file"
    finally:
        released.join()
        other.close()
        await db.close()
