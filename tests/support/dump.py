"""Every stored row, read straight from a server's SQLite file: tests compare dumps to prove nothing changed."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

TABLES = ("threads", "messages", "streams", "chunks")
# How long a dump waits for the server to finish compacting answers that just ended.
SETTLE_SECONDS = 10.0
UNCOMPACTED = "SELECT count(*) FROM streams WHERE compacted = 0 AND status IN ('DONE', 'ERROR', 'TIMEOUT', 'CANCELLED')"


def dump_database(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read straight from the SQLite file, once every finished answer is compacted.

    A server compacts an answer's chunks into one row just after it ends (invisible to every reader, but not to a
    dump), so a dump taken a moment after an answer and one taken later would otherwise differ."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        deadline = time.monotonic() + SETTLE_SECONDS
        while conn.execute(UNCOMPACTED).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.01)
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in TABLES}
